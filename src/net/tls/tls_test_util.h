// Test-only: certificates made with the `openssl` command line into a temporary directory (the
// C++ counterpart of test/integration/certs.py), and small file helpers for rotation tests.
//
// TestPki::get() builds one set per test process (EC P-256 keys): a CA; two server certificates
// for 127.0.0.1/localhost signed by it ("server" and "server2", different keys); a client
// certificate (CN=team-a, DNS/URI/e-mail SANs), an expired client certificate; another CA and a
// client it signed. Not thread-safe; call from the test thread.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace telegate::net::tls::testing {

inline std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void writeAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

struct TestPki {
  std::string dir;
  std::string ca, ca_key;
  std::string server_cert, server_key;
  std::string server2_cert, server2_key;
  std::string client_cert, client_key;
  std::string expired_cert, expired_key;
  std::string other_ca, other_ca_key;
  std::string other_client_cert, other_client_key;

  // Made on first use; the directory is removed at exit.
  static const TestPki& get() {
    static TestPki pki{Make{}};
    return pki;
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;
  ~TestPki() {
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }

 private:
  struct Make {};
  explicit TestPki(Make) { make(); }
  void make() {
    char tmpl[] = "/tmp/telegate_pki_XXXXXX";
    dir = mkdtemp(tmpl);
    const std::string d = dir + "/";
    ca = d + "ca.crt", ca_key = d + "ca.key";
    other_ca = d + "other-ca.crt", other_ca_key = d + "other-ca.key";
    std::string script = "set -e\ncd '" + dir + "'\n";
    const std::string newkey = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
    auto makeCa = [&](const std::string& name) {
      script += "openssl req -x509" + newkey + "-keyout " + name + ".key -out " + name +
                ".crt -subj '/CN=" + name +
                "' -days 30 -addext basicConstraints=critical,CA:TRUE "
                "-addext keyUsage=critical,keyCertSign,cRLSign\n";
    };
    auto makeLeaf = [&](const std::string& ca_name, const std::string& name,
                        const std::string& subject, const std::string& ext, int days) {
      script += "printf '%s\\n' '" + ext + "' > " + name + ".ext\n";
      script += "openssl req -new" + newkey + "-keyout " + name + ".key -out " + name +
                ".csr -subj '" + subject + "'\n";
      script += "openssl x509 -req -in " + name + ".csr -CA " + ca_name + ".crt -CAkey " + ca_name +
                ".key -CAcreateserial -days " + std::to_string(days) + " -sha256 -extfile " + name +
                ".ext -out " + name + ".crt\n";
    };
    makeCa("ca");
    makeCa("other-ca");
    const std::string server_ext = "subjectAltName=IP:127.0.0.1,DNS:localhost";
    makeLeaf("ca", "server", "/CN=server", server_ext, 30);
    makeLeaf("ca", "server2", "/CN=server2", server_ext, 60);
    makeLeaf("ca", "client", "/O=Example/CN=team-a",
             "subjectAltName=DNS:team-a.example,URI:spiffe://example/team-a,"
             "email:team-a@example.com",
             30);
    makeLeaf("ca", "expired", "/CN=expired", "extendedKeyUsage=clientAuth", -1);
    makeLeaf("other-ca", "stranger", "/CN=stranger", "extendedKeyUsage=clientAuth", 30);
    script += "rm -f *.csr *.ext *.srl\n";
    std::string script_path = d + "make.sh";
    writeAll(script_path, script);
    std::string cmd = "sh '" + script_path + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      ADD_FAILURE() << "openssl failed making the test certificates in " << dir;
    }
    server_cert = d + "server.crt", server_key = d + "server.key";
    server2_cert = d + "server2.crt", server2_key = d + "server2.key";
    client_cert = d + "client.crt", client_key = d + "client.key";
    expired_cert = d + "expired.crt", expired_key = d + "expired.key";
    other_client_cert = d + "stranger.crt", other_client_key = d + "stranger.key";
  }
};

// A directory laid out as kubelet mounts a Secret: DIR/..data -> ..<version>, DIR/<name> ->
// ..data/<name>. swap() writes a new version and atomically repoints ..data.
class KubeletDir {
 public:
  explicit KubeletDir(std::string dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  // Writes the files of a new version and swaps ..data to it; creates the top-level links once.
  void swap(const std::vector<std::pair<std::string, std::string>>& files) {
    const std::string version = "..2026_12_07_" + std::to_string(++n_);
    std::filesystem::create_directory(dir_ + "/" + version);
    for (const auto& [name, data] : files) writeAll(dir_ + "/" + version + "/" + name, data);
    const std::string tmp = dir_ + "/..data_tmp";
    std::filesystem::remove(tmp);
    std::filesystem::create_directory_symlink(version, tmp);
    std::filesystem::rename(tmp, dir_ + "/..data");
    for (const auto& [name, data] : files) {
      if (!std::filesystem::is_symlink(path(name))) {
        std::filesystem::create_symlink("..data/" + name, path(name));
      }
    }
  }

 private:
  std::string dir_;
  int n_ = 0;
};

}  // namespace telegate::net::tls::testing
