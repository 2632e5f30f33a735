// Typed component arguments: schemas, decoding from configuration blocks, and encoding back.
//
// Contract: every component declares `struct Arguments` with default member initialisers (the
// defaults) and `static void describe(Schema<Arguments>& s)` naming its attributes and blocks:
//
//   struct Arguments {
//     std::string url;
//     Duration timeout{std::chrono::seconds(5)};
//     std::optional<TlsBlock> tls;        // optional block
//     std::vector<EndpointBlock> endpoint;  // repeatable block
//     static void describe(Schema<Arguments>& s) {
//       s.attr("url", &Arguments::url).required();
//       s.attr("timeout", &Arguments::timeout);
//       s.block("tls", &Arguments::tls);
//       s.block("endpoint", &Arguments::endpoint);
//     }
//     absl::Status validate() const;  // optional; called after decoding
//   };
//
// decodeBlock() evaluates each attribute expression in a scope and converts it to the field's C++
// type with Alloy's conversions; unknown, duplicate, missing-required and ill-typed statements
// become positioned diagnostics. encodeArgs() turns decoded arguments back into a Value (for the
// admin API; secrets stay secret). Schemas are built once per type and are immutable afterwards.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "src/runtime/types.h"
#include "src/syntax/ast.h"
#include "src/syntax/diag.h"
#include "src/syntax/eval.h"
#include "src/syntax/value.h"

namespace telegate::runtime {

// ---- Value <-> C++ conversion -------------------------------------------------------------

template <class T, class Enable = void>
struct Codec;  // specialised below for every supported field type

namespace codec_detail {
absl::Status typeError(std::string_view want, const syntax::Value& got);
absl::Status decodeString(const syntax::Value& v, std::string* out);
absl::Status decodeBool(const syntax::Value& v, bool* out);
absl::Status decodeInt(const syntax::Value& v, int64_t* out);
absl::Status decodeUint(const syntax::Value& v, uint64_t* out);
absl::Status decodeFloat(const syntax::Value& v, double* out);
}  // namespace codec_detail

template <>
struct Codec<std::string> {
  static absl::Status decode(const syntax::Value& v, std::string* out) {
    return codec_detail::decodeString(v, out);
  }
  static syntax::Value encode(const std::string& v) { return syntax::Value::string(v); }
  static std::string typeName() { return "string"; }
};

template <>
struct Codec<bool> {
  static absl::Status decode(const syntax::Value& v, bool* out) {
    return codec_detail::decodeBool(v, out);
  }
  static syntax::Value encode(bool v) { return syntax::Value::boolean(v); }
  static std::string typeName() { return "bool"; }
};

template <class T>
struct Codec<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
  static absl::Status decode(const syntax::Value& v, T* out) {
    if constexpr (std::is_signed_v<T>) {
      int64_t x = 0;
      auto st = codec_detail::decodeInt(v, &x);
      if (!st.ok()) return st;
      if (x < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          x > static_cast<int64_t>(std::numeric_limits<T>::max())) {
        return absl::InvalidArgumentError("number " + std::to_string(x) + " is out of range");
      }
      *out = static_cast<T>(x);
    } else {
      uint64_t x = 0;
      auto st = codec_detail::decodeUint(v, &x);
      if (!st.ok()) return st;
      if (x > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return absl::InvalidArgumentError("number " + std::to_string(x) + " is out of range");
      }
      *out = static_cast<T>(x);
    }
    return absl::OkStatus();
  }
  static syntax::Value encode(T v) {
    if constexpr (std::is_signed_v<T>) {
      return syntax::Value::integer(v);
    } else {
      return syntax::Value::uinteger(v);
    }
  }
  static std::string typeName() { return "number"; }
};

template <>
struct Codec<double> {
  static absl::Status decode(const syntax::Value& v, double* out) {
    return codec_detail::decodeFloat(v, out);
  }
  static syntax::Value encode(double v) { return syntax::Value::floating(v); }
  static std::string typeName() { return "number"; }
};

template <>
struct Codec<Duration> {
  static absl::Status decode(const syntax::Value& v, Duration* out);
  static syntax::Value encode(const Duration& v) {
    return syntax::Value::string(formatDuration(v));
  }
  static std::string typeName() { return "duration"; }
};

template <>
struct Codec<ByteSize> {
  static absl::Status decode(const syntax::Value& v, ByteSize* out);
  static syntax::Value encode(const ByteSize& v) {
    return syntax::Value::string(formatByteSize(v));
  }
  static std::string typeName() { return "bytes"; }
};

template <>
struct Codec<Secret> {
  static absl::Status decode(const syntax::Value& v, Secret* out);
  static syntax::Value encode(const Secret& v) { return syntax::Value::secret(v.value); }
  static std::string typeName() { return "secret"; }
};

template <>
struct Codec<syntax::Value> {
  static absl::Status decode(const syntax::Value& v, syntax::Value* out) {
    *out = v;
    return absl::OkStatus();
  }
  static syntax::Value encode(const syntax::Value& v) { return v; }
  static std::string typeName() { return "any"; }
};

template <class C>
struct Codec<CapsuleRef<C>> {
  static absl::Status decode(const syntax::Value& v, CapsuleRef<C>* out) {
    if (v.type() != syntax::ValueType::kCapsule) {
      return codec_detail::typeError("capsule(\"" + std::string(C::kCapsuleType) + "\")", v);
    }
    auto p = std::dynamic_pointer_cast<C>(v.asCapsule());
    if (!p) {
      return absl::InvalidArgumentError("should be capsule(\"" + std::string(C::kCapsuleType) +
                                        "\"), got capsule(\"" +
                                        std::string(v.asCapsule()->capsuleType()) + "\")");
    }
    out->ptr = std::move(p);
    return absl::OkStatus();
  }
  static syntax::Value encode(const CapsuleRef<C>& v) {
    return v.ptr ? syntax::Value::capsule(v.ptr) : syntax::Value::null();
  }
  static std::string typeName() { return "capsule(" + std::string(C::kCapsuleType) + ")"; }
};

template <class T>
struct Codec<std::vector<T>> {
  static absl::Status decode(const syntax::Value& v, std::vector<T>* out) {
    if (v.type() != syntax::ValueType::kArray) return codec_detail::typeError("array", v);
    out->clear();
    out->reserve(v.asArray().size());
    size_t i = 0;
    for (const auto& item : v.asArray()) {
      T x{};
      auto st = Codec<T>::decode(item, &x);
      if (!st.ok()) {
        return absl::InvalidArgumentError("element " + std::to_string(i) + ": " +
                                          std::string(st.message()));
      }
      out->push_back(std::move(x));
      ++i;
    }
    return absl::OkStatus();
  }
  static syntax::Value encode(const std::vector<T>& v) {
    syntax::Array a;
    a.reserve(v.size());
    for (const auto& x : v) a.push_back(Codec<T>::encode(x));
    return syntax::Value::array(std::move(a));
  }
  static std::string typeName() { return "list(" + Codec<T>::typeName() + ")"; }
};

template <class T>
struct Codec<std::map<std::string, T>> {
  static absl::Status decode(const syntax::Value& v, std::map<std::string, T>* out) {
    if (v.type() != syntax::ValueType::kObject) return codec_detail::typeError("object", v);
    out->clear();
    for (const auto& [k, item] : v.asObject()) {
      T x{};
      auto st = Codec<T>::decode(item, &x);
      if (!st.ok()) {
        return absl::InvalidArgumentError("key \"" + k + "\": " + std::string(st.message()));
      }
      out->emplace(k, std::move(x));
    }
    return absl::OkStatus();
  }
  static syntax::Value encode(const std::map<std::string, T>& v) {
    syntax::Object o;
    for (const auto& [k, x] : v) o.emplace(k, Codec<T>::encode(x));
    return syntax::Value::object(std::move(o));
  }
  static std::string typeName() { return "map(" + Codec<T>::typeName() + ")"; }
};

template <class T>
struct Codec<std::optional<T>> {
  static absl::Status decode(const syntax::Value& v, std::optional<T>* out) {
    if (v.isNull()) {
      out->reset();
      return absl::OkStatus();
    }
    T x{};
    auto st = Codec<T>::decode(v, &x);
    if (!st.ok()) return st;
    *out = std::move(x);
    return absl::OkStatus();
  }
  static syntax::Value encode(const std::optional<T>& v) {
    return v ? Codec<T>::encode(*v) : syntax::Value::null();
  }
  static std::string typeName() { return Codec<T>::typeName(); }
};

// A discovery target: a map of label name to value.
using Target = std::map<std::string, std::string>;

// ---- Schemas --------------------------------------------------------------------------------

class SchemaBase;

struct FieldDesc {
  enum class Kind { kAttr, kBlock, kOptionalBlock, kBlockList };
  Kind kind = Kind::kAttr;
  std::string name;
  bool required = false;
  std::string doc;
  std::string type_name;
  // Attributes.
  std::function<absl::Status(const syntax::Value&, void* args)> decode;
  std::function<syntax::Value(const void* args)> encode;
  // Blocks: the nested schema, and accessors into the parent object.
  std::function<const SchemaBase&()> block_schema;
  std::function<void*(void* args)> block_enter;  // reset/emplace and return the block object
  std::function<const void*(const void* args, size_t i)> block_get;  // i-th present block or null
};

class SchemaBase {
 public:
  virtual ~SchemaBase() = default;
  const std::vector<FieldDesc>& fields() const { return fields_; }
  const FieldDesc* find(std::string_view name) const;
  // Runs the type's validate() when it has one.
  virtual absl::Status validate(const void* obj) const = 0;
  // Encodes a default-constructed object (for documentation).
  virtual syntax::Value encodeDefaults() const = 0;

 protected:
  std::vector<FieldDesc> fields_;
};

// Ordered repeatable blocks: when an Arguments type has `size_t block_seq` and a repeatable
// block's type has `size_t order`, every decoded block gets order = block_seq++ of its parent, so
// blocks of different names keep their relative order (loki.process stages).
template <class T>
concept HasBlockSeq = requires(T& t) {
  t.block_seq = size_t{0};
};
template <class B>
concept HasBlockOrder = requires(B& b) {
  b.order = size_t{0};
};

template <class T>
concept HasValidate = requires(const T& t) {
  { t.validate() } -> std::convertible_to<absl::Status>;
};

syntax::Value encodeObject(const SchemaBase& schema, const void* obj);

template <class T>
class Schema;

template <class T>
const Schema<T>& schemaOf();

// Fluent handle to tweak the field just added.
class FieldRef {
 public:
  explicit FieldRef(FieldDesc* d) : d_(d) {}
  FieldRef& required() {
    d_->required = true;
    return *this;
  }
  FieldRef& doc(std::string text) {
    d_->doc = std::move(text);
    return *this;
  }

 private:
  FieldDesc* d_;
};

template <class T>
class Schema : public SchemaBase {
 public:
  template <class F>
  FieldRef attr(std::string name, F T::*member) {
    FieldDesc d;
    d.kind = FieldDesc::Kind::kAttr;
    d.name = std::move(name);
    d.type_name = Codec<F>::typeName();
    d.decode = [member](const syntax::Value& v, void* obj) {
      return Codec<F>::decode(v, &(static_cast<T*>(obj)->*member));
    };
    d.encode = [member](const void* obj) {
      return Codec<F>::encode(static_cast<const T*>(obj)->*member);
    };
    fields_.push_back(std::move(d));
    return FieldRef(&fields_.back());
  }

  // A block that appears at most once; absent means its defaults (as initialised in T).
  template <class B>
  FieldRef block(std::string name, B T::*member) {
    FieldDesc d;
    d.kind = FieldDesc::Kind::kBlock;
    d.name = std::move(name);
    d.type_name = "block";
    d.block_schema = []() -> const SchemaBase& { return schemaOf<B>(); };
    d.block_enter = [member](void* obj) -> void* {
      auto& b = static_cast<T*>(obj)->*member;
      b = B{};
      return &b;
    };
    d.block_get = [member](const void* obj, size_t i) -> const void* {
      return i == 0 ? &(static_cast<const T*>(obj)->*member) : nullptr;
    };
    fields_.push_back(std::move(d));
    return FieldRef(&fields_.back());
  }

  // A block that may be absent (std::nullopt) or present once.
  template <class B>
  FieldRef block(std::string name, std::optional<B> T::*member) {
    FieldDesc d;
    d.kind = FieldDesc::Kind::kOptionalBlock;
    d.name = std::move(name);
    d.type_name = "block";
    d.block_schema = []() -> const SchemaBase& { return schemaOf<B>(); };
    d.block_enter = [member](void* obj) -> void* {
      auto& b = static_cast<T*>(obj)->*member;
      b.emplace();
      return &*b;
    };
    d.block_get = [member](const void* obj, size_t i) -> const void* {
      const auto& b = static_cast<const T*>(obj)->*member;
      return (i == 0 && b) ? &*b : nullptr;
    };
    fields_.push_back(std::move(d));
    return FieldRef(&fields_.back());
  }

  // A repeatable block.
  template <class B>
  FieldRef block(std::string name, std::vector<B> T::*member) {
    FieldDesc d;
    d.kind = FieldDesc::Kind::kBlockList;
    d.name = std::move(name);
    d.type_name = "block (repeatable)";
    d.block_schema = []() -> const SchemaBase& { return schemaOf<B>(); };
    d.block_enter = [member](void* obj) -> void* {
      auto& v = static_cast<T*>(obj)->*member;
      v.emplace_back();
      if constexpr (HasBlockSeq<T> && HasBlockOrder<B>) {
        v.back().order = static_cast<T*>(obj)->block_seq++;
      }
      return &v.back();
    };
    d.block_get = [member](const void* obj, size_t i) -> const void* {
      const auto& v = static_cast<const T*>(obj)->*member;
      return i < v.size() ? &v[i] : nullptr;
    };
    fields_.push_back(std::move(d));
    return FieldRef(&fields_.back());
  }

  absl::Status validate(const void* obj) const override {
    if constexpr (HasValidate<T>) {
      return static_cast<const T*>(obj)->validate();
    } else {
      return absl::OkStatus();
    }
  }
  syntax::Value encodeDefaults() const override {
    T t{};
    return encodeObject(*this, &t);
  }
};

template <class T>
const Schema<T>& schemaOf() {
  static const Schema<T>* schema = [] {
    auto* s = new Schema<T>();
    T::describe(*s);
    return s;
  }();
  return *schema;
}

// ---- Decoding a block body ------------------------------------------------------------------

struct DecodeContext {
  const syntax::Scope* scope = nullptr;
  std::string file;
  syntax::Diagnostics* diags = nullptr;
  std::vector<syntax::EvalWarning>* warnings = nullptr;
};

// Decodes `body` into `obj` (already holding defaults). `owner_range` positions messages about
// missing required statements. Returns false when any error diagnostic was added.
bool decodeBody(const syntax::ast::Body& body, const SchemaBase& schema, void* obj,
                syntax::Range owner_range, DecodeContext& ctx);

// Checks statement names and block/attribute shapes without evaluating expressions (used by the
// loader before the graph exists). Returns false when any error diagnostic was added.
bool checkBodyShape(const syntax::ast::Body& body, const SchemaBase& schema,
                    syntax::Range owner_range, const std::string& file, syntax::Diagnostics* diags);

}  // namespace telegate::runtime
