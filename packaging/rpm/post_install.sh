# Creates the bangui group and the state directory; enables nothing.
systemd-sysusers /usr/lib/sysusers.d/bangui.conf || getent group bangui >/dev/null || groupadd -r bangui
systemd-tmpfiles --create /usr/lib/tmpfiles.d/bangui.conf || true
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
