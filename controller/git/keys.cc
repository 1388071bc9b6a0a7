#include "controller/git/keys.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "controller/store/store.h"

namespace dflow::git {
namespace {

const char* const kKeyTypes[] = {"ssh-ed25519",
                                 "ssh-rsa",
                                 "ecdsa-sha2-nistp256",
                                 "ecdsa-sha2-nistp384",
                                 "ecdsa-sha2-nistp521",
                                 "sk-ssh-ed25519@openssh.com",
                                 "sk-ecdsa-sha2-nistp256@openssh.com"};

std::string Fingerprint(const std::string& raw) {
  std::string digest;
  std::string hex = Sha256Hex(raw);
  absl::HexStringToBytes(hex).swap(digest);
  std::string b64 = absl::Base64Escape(digest);
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

// Nothing that sshd or a shell would read specially may reach the file.
bool SafeForOptions(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' ||
           c == '-' || c == '+';
  });
}

}  // namespace

absl::Status ValidateKeyName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 63 &&
            (absl::ascii_islower(static_cast<unsigned char>(name[0])) ||
             absl::ascii_isdigit(static_cast<unsigned char>(name[0])));
  for (char c : name) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      ok = false;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key name \"", name,
        "\" is not allowed: use 1 to 63 lower-case letters, digits, '.', '_' or '-', starting "
        "with a letter or digit, e.g. alice-laptop"));
  }
  return absl::OkStatus();
}

absl::Status ParsePublicKey(const std::string& line, PushKey* key) {
  std::vector<std::string> f =
      absl::StrSplit(absl::StripAsciiWhitespace(line), absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (f.size() < 2) {
    return absl::InvalidArgumentError(
        "the key file does not hold an OpenSSH public key line (\"ssh-ed25519 AAAA... "
        "comment\"); give the .pub file, e.g. --file ~/.ssh/id_ed25519.pub");
  }
  if (std::find(std::begin(kKeyTypes), std::end(kKeyTypes), f[0]) == std::end(kKeyTypes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key type \"", f[0].substr(0, 40),
        "\" is not accepted (options before the key are not either); use ssh-ed25519, ssh-rsa or "
        "ecdsa-sha2-nistp256/384/521"));
  }
  std::string raw;
  if (!absl::Base64Unescape(f[1], &raw) || raw.size() < 4 + f[0].size() ||
      raw.substr(4, f[0].size()) != f[0] || !SafeForOptions(f[1])) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", f[0], " key's data is not valid base64 of such a key"));
  }
  key->type = f[0];
  key->blob = f[1];
  key->fingerprint = Fingerprint(raw);
  return absl::OkStatus();
}

Keys::Keys(store::Store* store, std::string authorized_keys_path, std::string shell_binary,
           std::string hook_socket)
    : store_(store),
      authorized_keys_(std::move(authorized_keys_path)),
      shell_binary_(std::move(shell_binary)),
      hook_socket_(std::move(hook_socket)) {}

absl::Status Keys::Load() {
  if (!SafeForOptions(shell_binary_) || !SafeForOptions(hook_socket_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the paths of dflow-controller (", shell_binary_, ") and of the git socket (", hook_socket_,
        ") go into authorized_keys and may hold only letters, digits, '/', '.', '_', '-' and '+'"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  return WriteLocked();
}

absl::Status Keys::WriteLocked() {
  ASSIGN_OR_RETURN(std::vector<PushKey> keys, store_->ListPushKeys());
  std::string lines =
      "# Written by dflow-controller from its key list (`dflow keys ls`); edits are lost.\n";
  for (const auto& k : keys) {
    // Checked again: a key's fields reach sshd's option parser.
    if (!ValidateKeyName(k.name).ok() || !SafeForOptions(k.blob) || !SafeForOptions(k.type)) {
      continue;
    }
    absl::StrAppend(&lines, "command=\"", shell_binary_, " git-shell --socket ", hook_socket_,
                    " --key ", k.name, "\",restrict ", k.type, " ", k.blob, " dflow:", k.name,
                    "\n");
  }
  return WriteFileAtomic(authorized_keys_, lines, 0644);
}

absl::StatusOr<PushKey> Keys::Add(PushKey key) {
  RETURN_IF_ERROR(ValidateKeyName(key.name));
  std::lock_guard<std::mutex> lock(mu_);
  key.added_at_ms = SystemClock::Get()->NowMs();
  RETURN_IF_ERROR(store_->AddPushKey(key));
  RETURN_IF_ERROR(WriteLocked());
  return key;
}

absl::Status Keys::Remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(store_->RemovePushKey(name));
  return WriteLocked();
}

absl::StatusOr<std::vector<PushKey>> Keys::List() { return store_->ListPushKeys(); }

std::string Keys::Check(const std::string& key, const std::string& app) {
  auto keys = store_->ListPushKeys();
  if (!keys.ok()) {
    return absl::StrCat("cannot read the push keys: ", keys.status().message());
  }
  for (const auto& k : *keys) {
    if (k.name != key) continue;
    if (k.all_apps || std::find(k.apps.begin(), k.apps.end(), app) != k.apps.end()) return "";
    return absl::StrCat("key ", key, " may not push to app ", app,
                        "; an admin can run `dflow keys rm ", key,
                        "` and add it again with --apps ", app, " (or --all)");
  }
  return absl::StrCat("key ", key, " is no longer known to the controller");
}

}  // namespace dflow::git
