# Managed by bangui. bangui rewrites this file when its own version changes.
# To take the file over, delete the first line; bangui then leaves it alone.
#
# A fail2ban action (loaded by fail2ban-server itself) for hosts without
# nftables' `nft`: a jail's bans in two ipset `hash:net` sets (NAME-4 and
# NAME-6), which hold addresses and networks side by side, and an iptables
# chain NAME, jumped to from INPUT, that drops traffic from them. fail2ban
# still calls ban() and unban() once per address; they only note the change,
# and a thread applies what changed in one `ipset restore` at most every
# `delay` seconds.
#
# ipset sets have a fixed maximum size (`maxelem`). The sets start at
# `maxelem` elements (65,536); before a change would overflow one, a set
# twice the size needed is filled and swapped in for it, in the same
# `ipset restore`.

import socket
import subprocess
import threading
import time

from fail2ban.server.action import ActionBase

FAMILY = {4: "inet", 6: "inet6"}
IPTABLES = {4: "iptables", 6: "ip6tables"}


def key_of(ip):
    """(family, canonical text): 192.0.2.7/32 and 192.0.2.7 are one ban.
    Built from fail2ban's IPAddr (masked already), not its text, which
    leaves out a /0."""
    family = getattr(ip, "family", None)
    if family in (socket.AF_INET, socket.AF_INET6):
        width = 32 if family == socket.AF_INET else 128
        text = socket.inet_ntop(family, ip.addr.to_bytes(width // 8, "big"))
        if ip.plen != width:
            text = "%s/%d" % (text, ip.plen)
        return (4 if family == socket.AF_INET else 6), text
    import ipaddress

    network = ipaddress.ip_network(str(ip).strip(), strict=False)
    family = network.version
    if network.prefixlen == network.max_prefixlen:
        return family, str(network.network_address)
    return family, str(network)


class BanguiIpset(ActionBase):
    def __init__(self, jail, name, set="bangui", chain="INPUT", delay="0.1",
                 maxelem="65536", ipset="ipset", iptables="iptables",
                 ip6tables="ip6tables"):
        super(BanguiIpset, self).__init__(jail, name)
        self.base = set
        self.first_size = int(maxelem)
        self.chain = chain
        self.delay = float(delay)
        self.ipset_command = ipset
        self.iptables = {4: iptables, 6: ip6tables}
        self._lock = threading.Condition()
        self._banned = {4: set_(), 6: set_()}
        self._networks = {4: 0, 6: 0}  # how many of the banned are networks
        self._pending = {4: {}, 6: {}}  # text -> True (add) / False (delete)
        self._size = {4: self.first_size, 6: self.first_size}
        self._resync = False
        self._stopping = False
        self._thread = None
        self._in_flight = 0  # changes taken into the restore running now
        self._backoff = 1.0
        self.errors = 0
        self.last_error = ""

    def _set(self, family):
        return "%s-%d" % (self.base, family)

    # --- what bangui reads (`get JAIL action bangui-ipset kernel`)

    @property
    def holds_networks(self):
        return True

    @property
    def kernel(self):
        with self._lock:
            counts = {}
            for family in (4, 6):
                nets = self._networks[family]
                counts[family] = (len(self._banned[family]) - nets, nets)
            return {
                "sets": "ipset sets %s, %s" % (self._set(4), self._set(6)),
                "addresses_v4": counts[4][0],
                "addresses_v6": counts[6][0],
                "networks_v4": counts[4][1],
                "networks_v6": counts[6][1],
                "networks_banned": counts[4][1] + counts[6][1],
                "pending": sum(len(p) for p in self._pending.values()) + self._in_flight,
                "errors": self.errors,
                "last_error": self.last_error,
            }

    # --- fail2ban's calls

    def start(self):
        # Whatever an earlier run left goes first: rules, then their sets.
        self._remove_rules()
        self._destroy(self._set(4), self._set(6))
        script = "".join(self._create(family, self._set(family), self.first_size)
                         for family in (4, 6))
        self._run([self.ipset_command, "-exist", "restore"], script, "create the sets")
        for family in (4, 6):
            self._size[family] = self.first_size
            self._iptables(family, "-N", self.base)
            self._iptables(family, "-A", self.base, "-m", "set", "--match-set",
                           self._set(family), "src", "-j", "DROP")
            self._iptables(family, "-I", self.chain, "-j", self.base)
        with self._lock:
            self._stopping = False
            # A restart of the action: what the sets hold is not known.
            self._resync = True
            self._lock.notify()
        self._thread = threading.Thread(target=self._apply_loop, name="bangui-ipset")
        self._thread.daemon = True
        self._thread.start()

    def stop(self):
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self._remove_rules()
        self._destroy(self._set(4), self._set(6))

    def _destroy(self, *names):
        for name in names:
            self._run([self.ipset_command, "destroy", name], None, "destroy " + name,
                      quiet=True)

    # fail2ban's `reload` keeps an action only when it has these two; without
    # them it makes a new one and stops the old, tearing down the sets the
    # running one still fills.
    def clearAllParams(self):
        pass

    def reload(self, delay=None, **_ignored):
        if delay is not None:
            self.delay = float(delay)

    def flush(self):
        with self._lock:
            self._banned = {4: set_(), 6: set_()}
            self._networks = {4: 0, 6: 0}
            self._pending = {4: {}, 6: {}}
            self._resync = True
            self._lock.notify()
        return True

    def ban(self, aInfo):
        self._change(aInfo, True)

    def reban(self, aInfo):
        self._change(aInfo, True)

    def unban(self, aInfo):
        self._change(aInfo, False)

    def _change(self, aInfo, ban):
        family, text = key_of(aInfo["ip"])
        with self._lock:
            banned = self._banned[family]
            if (text in banned) == ban:
                return
            (banned.add if ban else banned.discard)(text)
            if "/" in text:
                self._networks[family] += 1 if ban else -1
            pending = self._pending[family]
            if text in pending:
                # The opposite change is still queued: together they are none.
                del pending[text]
            else:
                pending[text] = ban
            self._lock.notify()

    # --- applying

    def _create(self, family, name, size):
        return "create %s hash:net family %s hashsize 1024 maxelem %d\n" % (
            name, FAMILY[family], size)

    def _apply_loop(self):
        while True:
            with self._lock:
                while (not any(self._pending.values()) and not self._resync
                       and not self._stopping):
                    self._lock.wait()
                if self._stopping and not any(self._pending.values()) and not self._resync:
                    return
            # Let a burst of ban() calls gather into one transaction.
            time.sleep(self.delay)
            with self._lock:
                resync, self._resync = self._resync, False
                pending, self._pending = self._pending, {4: {}, 6: {}}
                self._in_flight = sum(len(p) for p in pending.values()) or 1
                lines, spares = [], []
                for family in (4, 6):
                    count = len(self._banned[family])
                    if resync or count > self._size[family]:
                        lines += self._whole(family)
                        spares.append(self._set(family) + "~")
                    else:
                        lines += self._changes(family, pending[family])
            # A spare left by a failed swap would refuse its new size.
            self._destroy(*spares)
            applied = not lines or self._run([self.ipset_command, "-exist", "restore"],
                                             "".join(lines), "apply changes")
            with self._lock:
                self._in_flight = 0
                if not applied:
                    self._resync = True
            # A failure that keeps coming back is retried less and less often.
            if applied:
                self._backoff = 1.0
            else:
                time.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, 60.0)

    def _changes(self, family, pending):
        """Deletions first: a full set then never holds more than it may."""
        name = self._set(family)
        gone = ["del %s %s\n" % (name, t) for t, add in sorted(pending.items()) if not add]
        new = ["add %s %s\n" % (name, t) for t, add in sorted(pending.items()) if add]
        return gone + new

    def _whole(self, family):
        """The set refilled in a new one, swapped in: sized to what it holds."""
        name = self._set(family)
        spare = name + "~"
        size = self.first_size
        while size < 2 * len(self._banned[family]):
            size *= 2
        self._size[family] = size
        lines = [self._create(family, spare, size)]
        lines += ["add %s %s\n" % (spare, text) for text in sorted(self._banned[family])]
        lines += ["swap %s %s\n" % (spare, name), "destroy %s\n" % spare]
        return lines

    def _remove_rules(self):
        for family in (4, 6):
            while self._iptables(family, "-D", self.chain, "-j", self.base, quiet=True):
                pass
            self._iptables(family, "-F", self.base, quiet=True)
            self._iptables(family, "-X", self.base, quiet=True)

    def _iptables(self, family, *args, **kw):
        return self._run([self.iptables[family], "-w"] + list(args), None,
                         "run %s %s" % (self.iptables[family], " ".join(args)),
                         quiet=kw.get("quiet", False))

    def _run(self, command, script, what, quiet=False):
        try:
            done = subprocess.run(
                command, input=script.encode() if script is not None else None,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        except Exception as e:  # the program missing, timed out
            return self._failed(what, str(e), quiet)
        if done.returncode != 0:
            return self._failed(what, done.stderr.decode(errors="replace").strip()[:500], quiet)
        return True

    def _failed(self, what, why, quiet):
        if not quiet:
            self.errors += 1
            self.last_error = "cannot %s: %s" % (what, why)
            self._logSys.error("[%s] bangui-ipset: %s", self._jail.name, self.last_error)
        return False


# The constructor's `set` argument shadows the builtin inside it.
set_ = set

Action = BanguiIpset
