// Golden tests over committed configurations: the seed's config.alloy, the example
// configurations, and a corpus of broken configurations each with its expected first diagnostic.
// Set TELEGATE_UPDATE_GOLDEN=1 to rewrite the expected files (then review the diff).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/components/all.h"
#include "src/runtime/controller.h"
#include "src/runtime/docs.h"
#include "src/syntax/parser.h"
#include "src/syntax/printer.h"

namespace telegate {
namespace {

namespace fs = std::filesystem;
const fs::path kRoot = TELEGATE_SOURCE_DIR;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

runtime::LoadResult validate(const std::string& name, const std::string& text) {
  components::registerAll();
  metrics::Registry reg;
  runtime::ControllerOptions o;
  o.run_components = false;
  o.metrics = &reg;
  runtime::Controller c(o);
  return c.load({std::make_shared<syntax::SourceFile>(name, text)});
}

TEST(GoldenTest, SeedConfigValidatesWithToken) {
  setenv("ALLOY_RECEIVER_TOKEN", "your-secret-token-12345", 1);
  auto r = validate("config.alloy", readFile(kRoot / "test/testdata/seed/config.alloy"));
  EXPECT_TRUE(r.ok) << r.formatted();
  // env() is deprecated: a warning, not an error.
  bool warned = false;
  for (const auto& d : r.diags.items()) {
    warned = warned || (d.severity == syntax::Severity::kWarning &&
                        d.message.find("deprecated") != std::string::npos);
  }
  EXPECT_TRUE(warned);
}

TEST(GoldenTest, SeedConfigWithoutTokenFailsClosed) {
  unsetenv("ALLOY_RECEIVER_TOKEN");
  auto r = validate("config.alloy", readFile(kRoot / "test/testdata/seed/config.alloy"));
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.diags.summary().find("token must not be empty"), std::string::npos) << r.formatted();
}

TEST(GoldenTest, FormatIsStable) {
  for (const auto& p :
       {kRoot / "test/testdata/seed/config.alloy", kRoot / "examples/local.alloy"}) {
    auto src = std::make_shared<syntax::SourceFile>(p.filename().string(), readFile(p));
    syntax::Diagnostics d;
    auto f = syntax::parseFile(src, &d);
    ASSERT_FALSE(d.hasErrors()) << d.summary();
    std::string once = syntax::format(*f);
    auto src2 = std::make_shared<syntax::SourceFile>("again", once);
    auto f2 = syntax::parseFile(src2, &d);
    ASSERT_FALSE(d.hasErrors()) << d.summary() << "\n" << once;
    EXPECT_EQ(syntax::format(*f2), once) << p;
  }
}

TEST(GoldenTest, ExamplesAreValidAndCanonicallyFormatted) {
  setenv("ALLOY_RECEIVER_TOKEN", "example-token", 1);
  for (const auto& e : fs::directory_iterator(kRoot / "examples")) {
    if (e.path().extension() != ".alloy") continue;
    std::string name = e.path().filename().string();
    std::string text = readFile(e.path());
    auto src = std::make_shared<syntax::SourceFile>(name, text);
    syntax::Diagnostics d;
    auto f = syntax::parseFile(src, &d);
    ASSERT_FALSE(d.hasErrors()) << name;
    EXPECT_EQ(syntax::format(*f), text) << name << " is not in canonical format";
    auto r = validate(name, text);
    EXPECT_TRUE(r.ok) << r.formatted();
  }
}

TEST(GoldenTest, BrokenConfigsYieldExpectedDiagnostics) {
  unsetenv("TELEGATE_TEST_VARIABLE_THAT_IS_NEVER_SET");
  const bool update = std::getenv("TELEGATE_UPDATE_GOLDEN") != nullptr;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kRoot / "test/testdata/broken")) {
    if (e.path().extension() == ".alloy") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 25u);
  for (const auto& p : files) {
    std::string name = p.filename().string();
    auto r = validate(name, readFile(p));
    ASSERT_FALSE(r.ok) << name << " unexpectedly loaded";
    std::string got;
    for (const auto& d : r.diags.items()) {
      if (d.severity == syntax::Severity::kError) {
        got = d.toString();
        break;
      }
    }
    fs::path expected_path = p;
    expected_path.replace_extension(".err");
    if (update) {
      std::ofstream(expected_path) << got << "\n";
      continue;
    }
    std::string want = readFile(expected_path);
    while (!want.empty() && (want.back() == '\n' || want.back() == '\r')) want.pop_back();
    EXPECT_EQ(got, want) << name;
  }
}

TEST(GoldenTest, ConfigurationReferenceMatchesCode) {
  components::registerAll();
  std::string doc = readFile(kRoot / "docs/configuration.md");
  size_t b = doc.find(runtime::kDocsBeginMarker);
  size_t e = doc.find(runtime::kDocsEndMarker);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  b += std::string(runtime::kDocsBeginMarker).size() + 1;
  EXPECT_TRUE(doc.substr(b, e - b) == runtime::componentReference(runtime::Registry::global()))
      << "docs/configuration.md is stale: run scripts/gen-docs.sh";
}

}  // namespace
}  // namespace telegate
