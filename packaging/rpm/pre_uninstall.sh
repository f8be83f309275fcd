# $1 = 0: removal, not upgrade.
if [ "$1" = "0" ] && [ -d /run/systemd/system ]; then
    systemctl stop bangui.service bangui.socket >/dev/null 2>&1 || true
fi
