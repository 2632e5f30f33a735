#include "src/runtime/controller.h"

#include <gtest/gtest.h>

#include <atomic>

#include "src/runtime/registry.h"

namespace telegate::runtime {
namespace {

// A component whose export `out` mirrors its `value` argument; tests can also publish a new
// export at run time, as discovery components do.
struct SourceArgs {
  int64_t value = 0;
  static void describe(Schema<SourceArgs>& s) { s.attr("value", &SourceArgs::value); }
};

class Source : public TypedComponent<SourceArgs> {
 public:
  static inline std::atomic<Source*> last{nullptr};
  static inline std::atomic<int> shutdowns{0};
  static inline std::atomic<int64_t> deadline_ns{0};  // of the last shutdown, steady clock
  Source(Host& host, const SourceArgs& a) : host_(host) {
    host_.setExports({{"out", syntax::Value::integer(a.value)}});
    last = this;
  }
  absl::Status update(const SourceArgs& a) override {
    host_.setExports({{"out", syntax::Value::integer(a.value)}});
    return absl::OkStatus();
  }
  void shutdown(std::chrono::steady_clock::time_point d) override {
    shutdowns++;
    deadline_ns = d.time_since_epoch().count();
  }
  void publish(int64_t v) { host_.setExports({{"out", syntax::Value::integer(v)}}); }

 private:
  Host& host_;
};

struct SinkArgs {
  int64_t input = 0;
  bool fail_start = false;
  static void describe(Schema<SinkArgs>& s) {
    s.attr("input", &SinkArgs::input).required();
    s.attr("fail_start", &SinkArgs::fail_start);
  }
  absl::Status validate() const {
    if (input > 1000) return absl::InvalidArgumentError("input must be at most 1000");
    return absl::OkStatus();
  }
};

class Sink : public TypedComponent<SinkArgs> {
 public:
  static inline std::atomic<int64_t> deadline_ns{0};  // of the last shutdown, steady clock
  void shutdown(std::chrono::steady_clock::time_point d) override {
    deadline_ns = d.time_since_epoch().count();
  }
  static inline std::atomic<int64_t> seen{0};
  static inline std::atomic<int> instances{0};
  Sink(Host&, const SinkArgs& a) : args_(a) {
    seen = a.input;
    instances++;
  }
  absl::Status start() override {
    if (args_.fail_start) return absl::UnavailableError("address already in use");
    return absl::OkStatus();
  }
  absl::Status update(const SinkArgs& a) override {
    seen = a.input;
    return absl::OkStatus();
  }

 private:
  SinkArgs args_;
};

const Registry& testRegistry() {
  static Registry* r = [] {
    auto* reg = new Registry();
    auto add = [&](auto* tag, std::string name) {
      using C = std::remove_pointer_t<decltype(tag)>;
      using A = typename C::Arguments;
      Registration x;
      x.name = std::move(name);
      x.schema = &schemaOf<A>();
      x.args_type = &typeid(A);
      x.new_args = [] { return std::static_pointer_cast<void>(std::make_shared<A>()); };
      x.build = [](Host& h, const ArgsHolder& a) -> absl::StatusOr<std::unique_ptr<Component>> {
        return std::unique_ptr<Component>(new C(h, a.as<A>()));
      };
      reg->add(std::move(x));
    };
    add(static_cast<Source*>(nullptr), "test.source");
    add(static_cast<Sink*>(nullptr), "test.sink");
    return reg;
  }();
  return *r;
}

class ControllerTest : public ::testing::Test {
 protected:
  ControllerTest() {
    ControllerOptions o;
    o.registry = &testRegistry();
    o.metrics = &metrics_;
    o.storage_path = ::testing::TempDir();
    ctl_ = std::make_unique<Controller>(o);
  }
  LoadResult load(const std::string& text) {
    return ctl_->load({std::make_shared<syntax::SourceFile>("c.alloy", text)});
  }
  const ComponentStatus* find(const std::vector<ComponentStatus>& all, const std::string& id) {
    for (const auto& s : all) {
      if (s.id == id) return &s;
    }
    return nullptr;
  }
  metrics::Registry metrics_;
  std::unique_ptr<Controller> ctl_;
};

TEST_F(ControllerTest, ShutdownLeavesDownstreamComponentsTheirShareOfTheDeadline) {
  // The sink references the source: it is stopped first with at most half of the time, so the
  // source (what it flushes into, like an exporter behind a batch processor) keeps the rest.
  ASSERT_TRUE(load(R"(
test.sink "s" { input = test.source.a.out }
test.source "a" { value = 1 }
)")
                  .ok);
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + std::chrono::seconds(10);
  ctl_->shutdown(deadline);
  const auto sink = std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(Sink::deadline_ns.load()));
  const auto source = std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(Source::deadline_ns.load()));
  EXPECT_EQ(source, deadline);
  EXPECT_GE(sink, now + std::chrono::seconds(5));  // half of what was left at its turn
  EXPECT_LE(sink, now + std::chrono::milliseconds(5500));
  EXPECT_EQ(shareOfDeadline(now, now - std::chrono::seconds(1), 3), now - std::chrono::seconds(1));
  EXPECT_EQ(shareOfDeadline(now, now + std::chrono::seconds(9), 2), now + std::chrono::seconds(3));
}

TEST_F(ControllerTest, LoadsGraphInDependencyOrder) {
  auto r = load(R"(
test.sink "s" { input = test.source.a.out + 1 }
test.source "a" { value = 41 }
)");
  ASSERT_TRUE(r.ok) << r.formatted();
  EXPECT_EQ(Sink::seen.load(), 42);
  auto st = ctl_->status();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].id, "test.source.a");  // dependencies first
  EXPECT_EQ(st[1].references_to, std::vector<std::string>{"test.source.a"});
  EXPECT_EQ(st[0].referenced_by, std::vector<std::string>{"test.sink.s"});
  EXPECT_EQ(st[1].health.state, HealthState::kHealthy);
  EXPECT_TRUE(ctl_->loaded());
}

TEST_F(ControllerTest, RejectsStructuralErrorsWithPositions) {
  struct Case {
    std::string config, error;
  };
  std::vector<Case> cases = {
      {"nope.thing \"a\" { }",
       "c.alloy:1:1: cannot find the definition of component name \"nope.thing\""},
      {"test.source { }", "c.alloy:1:1: component \"test.source\" must have a label"},
      {"test.source \"a\" { }\ntest.source \"a\" { }",
       "c.alloy:2:1: block test.source.a already declared at c.alloy:1:1"},
      {"test.sink \"s\" { input = test.source.zz.out }",
       "c.alloy:1:25: component \"test.source.zz.out\" does not exist or is out of scope"},
      {"test.sink \"a\" { input = test.sink.b.x }\ntest.sink \"b\" { input = test.sink.a.x }",
       "c.alloy:1:1: cycle: test.sink.a, test.sink.b"},
      {"test.sink \"s\" { input = test.source.a.missing }\ntest.source \"a\" { }",
       "c.alloy:1:39: field \"missing\" does not exist"},
      {"test.sink \"s\" { input = 5000 }", "c.alloy:1:1: input must be at most 1000"},
  };
  for (const auto& c : cases) {
    auto r = load(c.config);
    ASSERT_FALSE(r.ok) << c.config;
    ASSERT_FALSE(r.diags.items().empty());
    EXPECT_EQ(r.diags.items()[0].toString(), c.error) << c.config;
  }
  EXPECT_FALSE(ctl_->loaded());
}

TEST_F(ControllerTest, ReloadKeepsInstancesAndFailedReloadKeepsOldGraph) {
  ASSERT_TRUE(
      load("test.source \"a\" { value = 1 }\ntest.sink \"s\" { input = test.source.a.out }").ok);
  Source* first = Source::last.load();
  int sinks = Sink::instances.load();
  EXPECT_EQ(Sink::seen.load(), 1);

  ASSERT_TRUE(
      load("test.source \"a\" { value = 2 }\ntest.sink \"s\" { input = test.source.a.out }").ok);
  ctl_->waitIdleForTest();
  EXPECT_EQ(Source::last.load(), first);     // same instance, updated in place
  EXPECT_EQ(Sink::instances.load(), sinks);  // no rebuild
  EXPECT_EQ(Sink::seen.load(), 2);

  auto bad = load("test.source \"a\" { value = 3 }\ntest.sink \"s\" { input = \"x\" + }");
  EXPECT_FALSE(bad.ok);
  auto bad2 = load("test.source \"a\" { value = 3 }\ntest.sink \"s\" { input = 9999 }");
  EXPECT_FALSE(bad2.ok);
  ctl_->waitIdleForTest();
  EXPECT_EQ(Sink::seen.load(), 2);  // old configuration still in force
  auto st = ctl_->status();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(syntax::toJson(st[0].arguments), "{\"value\":2}");
}

TEST_F(ControllerTest, RemovedComponentsShutDown) {
  ASSERT_TRUE(load("test.source \"a\" { }\ntest.source \"b\" { }").ok);
  int before = Source::shutdowns.load();
  ASSERT_TRUE(load("test.source \"a\" { }").ok);
  EXPECT_EQ(Source::shutdowns.load(), before + 1);
  EXPECT_EQ(ctl_->status().size(), 1u);
}

TEST_F(ControllerTest, ExportChangesReevaluateDependents) {
  ASSERT_TRUE(
      load("test.source \"a\" { value = 1 }\ntest.sink \"s\" { input = test.source.a.out * 10 }")
          .ok);
  EXPECT_EQ(Sink::seen.load(), 10);
  Source::last.load()->publish(7);
  ctl_->waitIdleForTest();
  EXPECT_EQ(Sink::seen.load(), 70);
  // A value the dependent cannot accept marks it unhealthy; it keeps its previous arguments.
  Source::last.load()->publish(500);
  ctl_->waitIdleForTest();
  auto* s = find(ctl_->status(), "test.sink.s");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->health.state, HealthState::kUnhealthy);
  EXPECT_NE(s->health.message.find("input must be at most 1000"), std::string::npos);
  EXPECT_EQ(Sink::seen.load(), 70);
  Source::last.load()->publish(3);
  ctl_->waitIdleForTest();
  EXPECT_EQ(find(ctl_->status(), "test.sink.s")->health.state, HealthState::kHealthy);
}

TEST_F(ControllerTest, FailedStartIsUnhealthyAndOthersRun) {
  auto r = load(
      "test.sink \"bad\" {\n input = 1\n fail_start = true\n}\ntest.sink \"good\" { input = 2 }");
  ASSERT_TRUE(r.ok) << r.formatted();
  auto st = ctl_->status();
  EXPECT_EQ(find(st, "test.sink.bad")->health.state, HealthState::kUnhealthy);
  EXPECT_NE(find(st, "test.sink.bad")->health.message.find("address already in use"),
            std::string::npos);
  EXPECT_EQ(find(st, "test.sink.good")->health.state, HealthState::kHealthy);
  std::string expo = metrics_.exposition();
  EXPECT_NE(expo.find("telegate_component_health{component_id=\"test.sink.bad\""),
            std::string::npos)
      << expo;
}

TEST_F(ControllerTest, ValidateModeBuildsButNeverStarts) {
  ControllerOptions o;
  o.registry = &testRegistry();
  o.metrics = &metrics_;
  o.run_components = false;
  Controller c(o);
  auto r = c.load({std::make_shared<syntax::SourceFile>(
      "v.alloy", "test.sink \"bad\" {\n input = 1\n fail_start = true\n}")});
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(c.status().empty());
}

}  // namespace
}  // namespace telegate::runtime
