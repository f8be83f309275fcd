# Managed by bangui. bangui rewrites this file when its own version changes.
# To take the file over, delete the first line; bangui then leaves it alone.
#
# A fail2ban action (loaded by fail2ban-server itself) that keeps a jail's
# bans in nftables sets of a table of its own, whose chain drops traffic
# from them: single addresses in hash sets (a4, a6), networks in interval
# sets (n4, n6). fail2ban still calls ban() and unban() once per address;
# they only note the change, and a thread applies what changed in one
# `nft -f` transaction at most every `delay` seconds, so 100,000 bans cost a
# few transactions instead of 100,000 `nft` processes.
#
# Interval sets refuse overlapping elements, and CIDR networks either nest or
# are disjoint: n4 and n6 hold the banned networks no other banned network
# contains (banning 192.0.2.0/24 replaces 192.0.2.128/25 there; unbanning
# the /24 puts the /25 back). Addresses stay in a4 and a6 whatever networks
# cover them, so lifting a network never lifts an address banned on its own.
# nftables is slow to delete from a large interval set (a second per hundred
# elements among 100,000), so a network set that loses elements is rewritten
# whole in the same transaction instead.

import bisect
import socket
import subprocess
import threading
import time

from fail2ban.server.action import ActionBase

WIDTH = {4: 32, 6: 128}
ADDRESSES = {4: "a4", 6: "a6"}
NETWORKS = {4: "n4", 6: "n6"}


def parse(text):
    """(family, start, prefix length) of an address or network."""
    text = text.strip()
    address, _, length = text.partition("/")
    family = 6 if ":" in address else 4
    width = WIDTH[family]
    if family == 4:
        parts = [int(p) for p in address.split(".")]
        if len(parts) != 4 or any(p < 0 or p > 255 for p in parts):
            raise ValueError("not an IPv4 address: %r" % text)
        value = (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]
    else:
        import ipaddress

        value = int(ipaddress.IPv6Address(address))
    plen = int(length) if length else width
    if plen < 0 or plen > width:
        raise ValueError("bad prefix length: %r" % text)
    mask = ((1 << width) - 1) ^ ((1 << (width - plen)) - 1)
    return family, value & mask, plen


def key_of(ip):
    """(family, start, prefix length) of the address fail2ban passes: its
    IPAddr already holds them (masked), which saves parsing its text again
    for every one of 100,000 bans."""
    family = getattr(ip, "family", None)
    if family == socket.AF_INET:
        return 4, ip.addr, ip.plen
    if family == socket.AF_INET6:
        return 6, ip.addr, ip.plen
    return parse(str(ip))


def end_of(family, start, plen):
    return start | ((1 << (WIDTH[family] - plen)) - 1)


def show(family, start, plen):
    if family == 4:
        text = ".".join(str((start >> s) & 255) for s in (24, 16, 8, 0))
    else:
        import ipaddress

        text = str(ipaddress.IPv6Address(start))
    return text if plen == WIDTH[family] else "%s/%d" % (text, plen)


class Family(object):
    """The banned addresses and networks of one family, and which networks
    the kernel's network set holds."""

    def __init__(self, family):
        self.family = family
        self.banned = set()  # (start, plen) of every banned address and network
        self.addresses = 0
        self.ordered = []  # the banned networks, sorted
        self.lengths = {}  # prefix length -> how many banned networks have it
        self.kernel = set()  # banned networks no other banned network contains

    def covered(self, start, plen):
        """Whether a banned network other than (start, plen) contains it."""
        width = WIDTH[self.family]
        for length in self.lengths:
            if length < plen:
                mask = ((1 << width) - 1) ^ ((1 << (width - length)) - 1)
                if (start & mask, length) in self.banned:
                    return True
        return False

    def inside(self, start, plen):
        """Banned networks within (start, plen), itself excluded, in order."""
        end = end_of(self.family, start, plen)
        i = bisect.bisect_left(self.ordered, (start, plen + 1))
        while i < len(self.ordered) and self.ordered[i][0] <= end:
            yield self.ordered[i]
            i += 1

    def ban(self, key, changes):
        if key in self.banned:
            return
        self.banned.add(key)
        if key[1] == WIDTH[self.family]:
            # Addresses always go to the kernel's address set.
            self.addresses += 1
            changes.toggle(self.family, key, True)
            return
        bisect.insort(self.ordered, key)
        self.lengths[key[1]] = self.lengths.get(key[1], 0) + 1
        if self.covered(*key):
            return
        for inner in list(self.inside(*key)):
            if inner in self.kernel:
                self.kernel.discard(inner)
                changes.toggle(self.family, inner, False)
        self.kernel.add(key)
        changes.toggle(self.family, key, True)

    def unban(self, key, changes):
        if key not in self.banned:
            return
        self.banned.discard(key)
        if key[1] == WIDTH[self.family]:
            self.addresses -= 1
            changes.toggle(self.family, key, False)
            return
        del self.ordered[bisect.bisect_left(self.ordered, key)]
        self.lengths[key[1]] -= 1
        if not self.lengths[key[1]]:
            del self.lengths[key[1]]
        if key not in self.kernel:
            return
        self.kernel.discard(key)
        changes.toggle(self.family, key, False)
        # What the prefix covered is the kernel's again: the outermost ones.
        covered_to = -1
        for inner in list(self.inside(*key)):
            if inner[0] > covered_to:
                self.kernel.add(inner)
                changes.toggle(self.family, inner, True)
                covered_to = end_of(self.family, inner[0], inner[1])


class Changes(object):
    """Since the last transaction: addresses to add (True) or delete (False),
    and whether each family's network set changed."""

    def __init__(self):
        self.addresses = {4: {}, 6: {}}
        self.networks_added = {4: [], 6: []}
        self.networks_lost = {4: False, 6: False}

    def toggle(self, family, key, add):
        if key[1] != WIDTH[family]:
            if add:
                self.networks_added[family].append(key)
            else:
                self.networks_lost[family] = True
            return
        pending = self.addresses[family]
        if key in pending:
            # The opposite change is still queued: together they are none.
            del pending[key]
        else:
            pending[key] = add

    def take(self):
        taken = (self.addresses, self.networks_added, self.networks_lost)
        self.__init__()
        return taken

    def __len__(self):
        return sum(len(v) for v in self.addresses.values()) + sum(
            len(v) for v in self.networks_added.values()) + sum(
            1 for v in self.networks_lost.values() if v)


class BanguiNftables(ActionBase):
    def __init__(self, jail, name, table="bangui", nft="nft", hook="input",
                 priority="-1", delay="0.1"):
        super(BanguiNftables, self).__init__(jail, name)
        self.table = table
        self.nft_command = nft
        self.hook = hook
        self.priority = int(priority)
        self.delay = float(delay)
        self._lock = threading.Condition()
        self._families = {4: Family(4), 6: Family(6)}
        self._changes = Changes()
        self._resync = False
        self._stopping = False
        self._thread = None
        self._in_flight = 0  # changes taken into the transaction running now
        self._backoff = 1.0
        # Read by bangui (`get JAIL action NAME PROPERTY`).
        self.transactions = 0
        self.errors = 0
        self.last_error = ""

    # --- what bangui reads (`get JAIL action bangui-nftables PROPERTY`)

    @property
    def addresses_v4(self):
        return self._families[4].addresses

    @property
    def addresses_v6(self):
        return self._families[6].addresses

    @property
    def networks_v4(self):
        """Networks in the kernel's set: those no other banned one contains."""
        return len(self._families[4].kernel)

    @property
    def networks_v6(self):
        return len(self._families[6].kernel)

    @property
    def pending(self):
        """Changes acknowledged to fail2ban and not yet in the kernel."""
        with self._lock:
            return len(self._changes) + self._in_flight

    @property
    def holds_networks(self):
        return True

    @property
    def kernel(self):
        """Everything above in one request (what `bangui-ctl fail2ban status`
        shows)."""
        with self._lock:
            four, six = self._families[4], self._families[6]
            return {
                "sets": "nftables table inet %s" % self.table,
                "addresses_v4": four.addresses,
                "addresses_v6": six.addresses,
                "networks_v4": len(four.kernel),
                "networks_v6": len(six.kernel),
                "networks_banned": len(four.ordered) + len(six.ordered),
                "pending": len(self._changes) + self._in_flight,
                "errors": self.errors,
                "last_error": self.last_error,
            }

    # --- fail2ban's calls

    def start(self):
        self._run(self._table_script(), "create the table")
        with self._lock:
            self._stopping = False
            # A restart of the action: the table was made anew, empty.
            if any(f.kernel for f in self._families.values()):
                self._resync = True
                self._lock.notify()
        self._thread = threading.Thread(target=self._apply_loop, name="bangui-nft")
        self._thread.daemon = True
        self._thread.start()

    def stop(self):
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self._run("delete table inet %s\n" % self.table, "delete the table", quiet=True)

    # fail2ban's `reload` keeps an action only when it has these two; without
    # them it makes a new one and stops the old, deleting the table the
    # running one still fills.
    def clearAllParams(self):
        pass

    def reload(self, delay=None, **_ignored):
        if delay is not None:
            self.delay = float(delay)

    def flush(self):
        with self._lock:
            for family in self._families:
                self._families[family] = Family(family)
            self._changes = Changes()
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
        family, start, plen = key_of(aInfo["ip"])
        with self._lock:
            f = self._families[family]
            (f.ban if ban else f.unban)((start, plen), self._changes)
            if len(self._changes):
                self._lock.notify()

    # --- applying

    def _table_script(self):
        return (
            "add table inet {t}\n"
            "delete table inet {t}\n"
            "add table inet {t}\n"
            "add set inet {t} a4 {{ type ipv4_addr; }}\n"
            "add set inet {t} a6 {{ type ipv6_addr; }}\n"
            "add set inet {t} n4 {{ type ipv4_addr; flags interval; }}\n"
            "add set inet {t} n6 {{ type ipv6_addr; flags interval; }}\n"
            "add chain inet {t} {hook} {{ type filter hook {hook} priority {p}; policy accept; }}\n"
            "add rule inet {t} {hook} ip saddr @a4 drop\n"
            "add rule inet {t} {hook} ip saddr @n4 drop\n"
            "add rule inet {t} {hook} ip6 saddr @a6 drop\n"
            "add rule inet {t} {hook} ip6 saddr @n6 drop\n"
        ).format(t=self.table, hook=self.hook, p=self.priority)

    def _apply_loop(self):
        while True:
            with self._lock:
                while not len(self._changes) and not self._resync and not self._stopping:
                    self._lock.wait()
                if self._stopping and not len(self._changes) and not self._resync:
                    return
            # Let a burst of ban() calls gather into one transaction.
            time.sleep(self.delay)
            with self._lock:
                resync, self._resync = self._resync, False
                self._in_flight = len(self._changes) or 1
                addresses, added, lost = self._changes.take()
                if resync:
                    script = self._whole_script()
                else:
                    script = self._change_script(addresses, added, lost)
            applied = not script or self._run(
                script, "apply %s" % ("the whole sets" if resync else "changes"))
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

    def _elements(self, verb, name, family, keys):
        lines = []
        keys = list(keys)
        for i in range(0, len(keys), 5000):
            part = ", ".join(show(family, s, l) for s, l in keys[i:i + 5000])
            lines.append("%s element inet %s %s { %s }\n" % (verb, self.table, name, part))
        return lines

    def _networks(self, family):
        """The network set rewritten whole (see the top of this file)."""
        return ["flush set inet %s %s\n" % (self.table, NETWORKS[family])] + self._elements(
            "add", NETWORKS[family], family, sorted(self._families[family].kernel))

    def _change_script(self, addresses, added, lost):
        lines = []
        for family in (4, 6):
            gone = sorted(k for k, add in addresses[family].items() if not add)
            lines += self._elements("delete", ADDRESSES[family], family, gone)
            new = sorted(k for k, add in addresses[family].items() if add)
            lines += self._elements("add", ADDRESSES[family], family, new)
            if lost[family]:
                lines += self._networks(family)
            else:
                # Still wanted: a network added and then covered by a later one is not.
                kernel = self._families[family].kernel
                new = sorted(k for k in added[family] if k in kernel)
                lines += self._elements("add", NETWORKS[family], family, new)
        return "".join(lines)

    def _whole_script(self):
        lines = []
        for family in (4, 6):
            f = self._families[family]
            lines.append("flush set inet %s %s\n" % (self.table, ADDRESSES[family]))
            lines += self._elements("add", ADDRESSES[family], family,
                                    sorted(k for k in f.banned if k[1] == WIDTH[family]))
            lines += self._networks(family)
        return "".join(lines)

    def _run(self, script, what, quiet=False):
        try:
            done = subprocess.run(
                [self.nft_command, "-f", "-"], input=script.encode(),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        except Exception as e:  # nft missing, timed out
            return self._failed(what, str(e), quiet)
        if done.returncode != 0:
            return self._failed(what, done.stderr.decode(errors="replace").strip()[:500], quiet)
        self.transactions += 1
        return True

    def _failed(self, what, why, quiet):
        if not quiet:
            self.errors += 1
            self.last_error = "cannot %s: %s" % (what, why)
            self._logSys.error("[%s] bangui-nftables: %s", self._jail.name, self.last_error)
        return False


Action = BanguiNftables
