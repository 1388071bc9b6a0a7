#!/bin/sh
# Sets up the system user and group that `git push dflow@HOST:APP` logs in as,
# for a controller on this machine. Idempotent: running it again changes
# nothing that is already right. Run as root.
#
#   deploy/git-user.sh [--user NAME] [--home DIR] [--install-sshd-config]
#
#   --user NAME              user and group (default dflow)
#   --home DIR               its home (default /var/lib/NAME-git), which holds
#                              DIR/.ssh/authorized_keys   0644, written by the controller
#                              DIR/repos/                 root:NAME 02770, the apps' repositories
#                              DIR/git.sock               the controller's git socket (made by it)
#                              DIR/safe-directories.gitconfig   root 0644, the repositories as
#                                git safe.directory entries (kept by the controller), included
#                                from the system gitconfig so members of group NAME may
#                                `git push DIR/repos/APP.git` (the repositories are root's)
#   --install-sshd-config    also write /etc/ssh/sshd_config.d/NAME-git.conf (the
#                            snippet printed at the end); reload sshd afterwards
#
# Every command below is an argv (no eval, no string built into a command).
# Then start the controller with the flags this script prints, add keys with
# `dflow keys add NAME --file KEY.pub --apps APP`, and push with
# `git remote add dflow NAME@HOST:APP`. sshd forces every key into
# `dflow-controller git-shell`, which asks the controller over the git socket
# (group NAME, each caller checked with SO_PEERCRED) and runs git as NAME.
set -eu

user=dflow
home=
install_sshd=no
while [ $# -gt 0 ]; do
  case "$1" in
    --user) user="${2:?--user needs a name}"; shift 2 ;;
    --home) home="${2:?--home needs a directory}"; shift 2 ;;
    --install-sshd-config) install_sshd=yes; shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "git-user.sh: unknown argument \"$1\" (see --help)" >&2; exit 2 ;;
  esac
done
case "$user" in
  ''|-*|*[!a-z0-9_-]*)
    echo "git-user.sh: user name \"$user\" is not allowed: use a-z, 0-9, '_' and '-', not starting with '-'" >&2
    exit 2 ;;
esac
[ -n "$home" ] || home="/var/lib/${user}-git"
case "$home" in
  /*) ;;
  *) echo "git-user.sh: --home \"$home\" must be an absolute path" >&2; exit 2 ;;
esac
case "$home" in
  *[!A-Za-z0-9/._+-]*)
    echo "git-user.sh: --home \"$home\" may hold only letters, digits, '/', '.', '_', '+' and '-' (it goes into authorized_keys)" >&2
    exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
  echo "git-user.sh: run as root (it creates a system user)" >&2
  exit 1
fi

if ! getent group -- "$user" >/dev/null; then
  groupadd --system -- "$user"
  echo "created group $user"
fi
if ! getent passwd -- "$user" >/dev/null; then
  # sshd runs the forced command through the login shell, so it must be a real one.
  useradd --system --gid "$user" --home-dir "$home" --no-create-home --shell /bin/sh \
    --comment "dflow git push" -- "$user"
  echo "created user $user (home $home)"
fi
# '*': no password can ever match, and the account is not "locked" ('!'),
# which sshd without PAM would refuse even for a key.
usermod --password '*' -- "$user"

# Owned by root and not group-writable: sshd's StrictModes accepts them and
# the git user cannot replace authorized_keys or the socket.
install -d -o root -g "$user" -m 0750 -- "$home"
install -d -o root -g "$user" -m 0750 -- "$home/.ssh"
if [ ! -e "$home/.ssh/authorized_keys" ]; then
  install -o root -g "$user" -m 0644 /dev/null "$home/.ssh/authorized_keys"
fi
chown root:"$user" -- "$home/.ssh/authorized_keys"
chmod 0644 -- "$home/.ssh/authorized_keys"
# The repositories: group-writable, setgid (new files stay in the group), not
# for anyone else. The controller keeps each repository's config and hooks
# writable by itself only.
install -d -o root -g "$user" -m 2770 -- "$home/repos"
# git refuses a repository another user owns ("dubious ownership") unless the
# system or user config lists it as safe.directory: the controller keeps the
# list (--git-safe-config) in a file only root may change, included once from
# the system gitconfig (GIT_CONFIG_SYSTEM when set, else /etc/gitconfig).
safe="$home/safe-directories.gitconfig"
if [ ! -e "$safe" ]; then
  install -o root -g root -m 0644 /dev/null "$safe"
fi
chown root:root -- "$safe"
chmod 0644 -- "$safe"
if ! git config --system --get-all include.path 2>/dev/null | grep -qxF -- "$safe"; then
  git config --system --add include.path "$safe"
  echo "added include.path $safe to the system gitconfig"
fi

snippet="Match User $user
    AuthorizedKeysFile $home/.ssh/authorized_keys
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    AllowTcpForwarding no
    AllowAgentForwarding no
    X11Forwarding no
    PermitTTY no"
if [ "$install_sshd" = yes ]; then
  conf="/etc/ssh/sshd_config.d/${user}-git.conf"
  install -d -m 0755 -- /etc/ssh/sshd_config.d
  if [ ! -e "$conf" ] || [ "$(cat -- "$conf")" != "$snippet" ]; then
    printf '%s\n' "$snippet" > "$conf.tmp"
    chmod 0644 -- "$conf.tmp"
    mv -- "$conf.tmp" "$conf"
    echo "wrote $conf; reload sshd (systemctl reload ssh)"
  fi
fi

echo "git user $user ready (home $home). Run the controller with:"
echo "  dflow-controller run ... --git-group $user --repos-dir $home/repos \\"
echo "    --git-socket $home/git.sock --authorized-keys $home/.ssh/authorized_keys \\"
echo "    --git-safe-config $home/safe-directories.gitconfig"
if [ "$install_sshd" != yes ]; then
  echo "and give sshd (sshd_config or /etc/ssh/sshd_config.d/${user}-git.conf):"
  printf '%s\n' "$snippet"
fi
