#!/bin/sh
# Creates the system user and group that `git push dflow@HOST:APP` logs in as,
# and its ~/.ssh, for a controller on this machine. Idempotent: running it again
# changes nothing that is already right. Run as root.
#
#   deploy/setup-git-user.sh [USER]        (default user and group: dflow)
#
# Then start the controller with
#   dflow-controller run ... --git-group USER \
#     --authorized-keys /var/lib/USER-git/.ssh/authorized_keys
# and add keys with `dflow keys add NAME --file KEY.pub --apps APP`. sshd then
# forces every key into `dflow-controller git-shell`, which talks to the
# controller over its git socket (group USER, checked with SO_PEERCRED).
set -eu

user="${1:-dflow}"
case "$user" in
  ''|-*|*[!a-z0-9_-]*)
    echo "setup-git-user: user name \"$user\" is not allowed: use a-z, 0-9, '_' and '-'" >&2
    exit 2 ;;
esac
home="/var/lib/${user}-git"

if [ "$(id -u)" != 0 ]; then
  echo "setup-git-user: run as root (it creates a system user)" >&2
  exit 1
fi

if ! getent group -- "$user" >/dev/null; then
  groupadd --system -- "$user"
  echo "created group $user"
fi
if ! getent passwd -- "$user" >/dev/null; then
  useradd --system --gid "$user" --home-dir "$home" --create-home --shell /bin/sh \
    --comment "dflow git push" -- "$user"
  echo "created user $user (home $home)"
fi
install -d -o root -g "$user" -m 0755 -- "$home"
install -d -o root -g "$user" -m 0755 -- "$home/.ssh"
# The controller (root) writes authorized_keys here; sshd's StrictModes accepts
# a root-owned file that nobody else can write.
if [ ! -e "$home/.ssh/authorized_keys" ]; then
  install -o root -g "$user" -m 0644 /dev/null "$home/.ssh/authorized_keys"
fi
# Password logins are never possible for this user.
passwd -l -- "$user" >/dev/null 2>&1 || true
echo "git user $user ready: authorized_keys at $home/.ssh/authorized_keys"
