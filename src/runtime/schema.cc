#include "src/runtime/schema.h"

#include <charconv>
#include <cmath>
#include <set>

#include "src/common/strings.h"
#include "src/syntax/printer.h"

namespace telegate::runtime {

namespace codec_detail {

absl::Status typeError(std::string_view want, const syntax::Value& got) {
  std::string_view got_name = got.isSecret() ? "secret" : syntax::typeName(got.type());
  return absl::InvalidArgumentError(strCat("should be ", want, ", got ", got_name));
}

absl::Status decodeString(const syntax::Value& v, std::string* out) {
  switch (v.type()) {
    case syntax::ValueType::kString:
      if (v.isSecret()) {
        return absl::InvalidArgumentError(
            "should be string, got secret (use convert.nonsensitive to reveal it)");
      }
      *out = v.asString();
      return absl::OkStatus();
    case syntax::ValueType::kNumber:
      *out = syntax::printValue(v);
      return absl::OkStatus();
    default:
      return typeError("string", v);
  }
}

absl::Status decodeBool(const syntax::Value& v, bool* out) {
  if (v.type() != syntax::ValueType::kBool) return typeError("bool", v);
  *out = v.asBool();
  return absl::OkStatus();
}

namespace {
// String-to-number conversion with Alloy's rules: "-..." int, "." or "e" float, else uint.
absl::Status numberFromString(const std::string& s, syntax::Value* out) {
  if (s.empty()) return absl::InvalidArgumentError("cannot convert empty string to number");
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (s.find_first_of(".eE") != std::string::npos) {
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size()) {
      return absl::InvalidArgumentError(strCat("cannot convert \"", s, "\" to number"));
    }
    *out = syntax::Value::floating(d);
    return absl::OkStatus();
  }
  if (s[0] == '-') {
    int64_t x = 0;
    auto r = std::from_chars(b, e, x);
    if (r.ec != std::errc() || r.ptr != e) {
      return absl::InvalidArgumentError(strCat("cannot convert \"", s, "\" to number"));
    }
    *out = syntax::Value::integer(x);
    return absl::OkStatus();
  }
  uint64_t x = 0;
  auto r = std::from_chars(b, e, x);
  if (r.ec != std::errc() || r.ptr != e) {
    return absl::InvalidArgumentError(strCat("cannot convert \"", s, "\" to number"));
  }
  *out = syntax::Value::uinteger(x);
  return absl::OkStatus();
}

absl::Status asNumber(const syntax::Value& v, syntax::Value* out) {
  if (v.type() == syntax::ValueType::kNumber) {
    *out = v;
    return absl::OkStatus();
  }
  if (v.type() == syntax::ValueType::kString && !v.isSecret()) {
    return numberFromString(v.asString(), out);
  }
  return typeError("number", v);
}
}  // namespace

absl::Status decodeInt(const syntax::Value& v, int64_t* out) {
  syntax::Value n;
  if (auto st = asNumber(v, &n); !st.ok()) return st;
  switch (n.numberKind()) {
    case syntax::NumberKind::kInt:
      *out = n.asInt();
      return absl::OkStatus();
    case syntax::NumberKind::kUint:
      if (n.asUint() > static_cast<uint64_t>(INT64_MAX)) {
        return absl::InvalidArgumentError("number is out of range");
      }
      *out = static_cast<int64_t>(n.asUint());
      return absl::OkStatus();
    case syntax::NumberKind::kFloat: {
      double d = n.asFloat();
      if (d != std::trunc(d) || std::isnan(d) || std::fabs(d) > 9.2e18) {
        return absl::InvalidArgumentError(
            strCat("cannot convert ", syntax::printValue(n), " to an integer"));
      }
      *out = static_cast<int64_t>(d);
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status decodeUint(const syntax::Value& v, uint64_t* out) {
  syntax::Value n;
  if (auto st = asNumber(v, &n); !st.ok()) return st;
  if (n.numberKind() == syntax::NumberKind::kUint) {
    *out = n.asUint();
    return absl::OkStatus();
  }
  int64_t x = 0;
  if (auto st = decodeInt(n, &x); !st.ok()) return st;
  if (x < 0) {
    return absl::InvalidArgumentError(strCat("number ", x, " must not be negative"));
  }
  *out = static_cast<uint64_t>(x);
  return absl::OkStatus();
}

absl::Status decodeFloat(const syntax::Value& v, double* out) {
  syntax::Value n;
  if (auto st = asNumber(v, &n); !st.ok()) return st;
  *out = n.asFloat();
  return absl::OkStatus();
}

}  // namespace codec_detail

absl::Status Codec<Duration>::decode(const syntax::Value& v, Duration* out) {
  if (v.type() != syntax::ValueType::kString || v.isSecret()) {
    if (v.type() == syntax::ValueType::kNumber) {
      return absl::InvalidArgumentError(
          strCat("time: missing unit in duration \"", syntax::printValue(v), "\""));
    }
    return codec_detail::typeError("string", v);
  }
  auto d = parseDuration(v.asString());
  if (!d.ok()) return d.status();
  *out = *d;
  return absl::OkStatus();
}

absl::Status Codec<ByteSize>::decode(const syntax::Value& v, ByteSize* out) {
  if (v.type() == syntax::ValueType::kNumber) {
    uint64_t n = 0;
    if (auto st = codec_detail::decodeUint(v, &n); !st.ok()) return st;
    *out = ByteSize(n);
    return absl::OkStatus();
  }
  if (v.type() != syntax::ValueType::kString || v.isSecret()) {
    return codec_detail::typeError("string", v);
  }
  auto b = parseByteSize(v.asString());
  if (!b.ok()) return b.status();
  *out = *b;
  return absl::OkStatus();
}

absl::Status Codec<Secret>::decode(const syntax::Value& v, Secret* out) {
  if (v.type() == syntax::ValueType::kString) {
    out->value = v.asString();
    return absl::OkStatus();
  }
  if (v.type() == syntax::ValueType::kNumber) {
    out->value = syntax::printValue(v);
    return absl::OkStatus();
  }
  return codec_detail::typeError("secret", v);
}

const FieldDesc* SchemaBase::find(std::string_view name) const {
  for (const auto& f : fields_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

syntax::Value encodeObject(const SchemaBase& schema, const void* obj) {
  syntax::Object o;
  for (const auto& f : schema.fields()) {
    if (f.kind == FieldDesc::Kind::kAttr) {
      o.emplace(f.name, f.encode(obj));
      continue;
    }
    const SchemaBase& bs = f.block_schema();
    if (f.kind == FieldDesc::Kind::kBlockList) {
      syntax::Array items;
      for (size_t i = 0;; ++i) {
        const void* b = f.block_get(obj, i);
        if (b == nullptr) break;
        items.push_back(encodeObject(bs, b));
      }
      o.emplace(f.name, syntax::Value::array(std::move(items)));
    } else {
      const void* b = f.block_get(obj, 0);
      if (b != nullptr) o.emplace(f.name, encodeObject(bs, b));
    }
  }
  return syntax::Value::object(std::move(o));
}

namespace {

std::string shortExpr(const syntax::ast::Expr& e) {
  std::string s = syntax::formatExpr(e);
  constexpr size_t kMax = 60;
  if (s.size() > kMax) {
    s.resize(kMax);
    s += "...";
  }
  return s;
}

// Shared statement walk for decodeBody (obj != null, evaluating) and checkBodyShape.
bool walkBody(const syntax::ast::Body& body, const SchemaBase& schema, void* obj,
              syntax::Range owner_range, const std::string& file, syntax::Diagnostics* diags,
              DecodeContext* ctx) {
  bool ok = true;
  std::map<std::string, syntax::Range, std::less<>> seen_attrs;
  std::map<std::string, syntax::Range, std::less<>> seen_blocks;
  for (const auto& stmt : body.stmts) {
    if (stmt.attr) {
      const auto& a = *stmt.attr;
      const FieldDesc* f = schema.find(a.name);
      if (f == nullptr) {
        diags->addError(file, a.name_range, strCat("unrecognized attribute name \"", a.name, "\""));
        ok = false;
        continue;
      }
      if (f->kind != FieldDesc::Kind::kAttr) {
        diags->addError(file, a.name_range,
                        strCat("\"", a.name, "\" must be a block, but is used as an attribute"));
        ok = false;
        continue;
      }
      if (auto it = seen_attrs.find(a.name); it != seen_attrs.end()) {
        diags->addError(file, a.name_range,
                        strCat("attribute \"", a.name, "\" may only be provided once"));
        ok = false;
        continue;
      }
      seen_attrs.emplace(a.name, a.name_range);
      if (ctx == nullptr || a.value == nullptr) continue;
      syntax::Range err_range = a.value->range;
      auto v = syntax::evaluate(*a.value, *ctx->scope, &err_range, ctx->warnings);
      if (!v.ok()) {
        diags->addError(file, err_range, std::string(v.status().message()));
        ok = false;
        continue;
      }
      auto st = f->decode(*v, obj);
      if (!st.ok()) {
        diags->addError(file, a.value->range, strCat(shortExpr(*a.value), " ", st.message()));
        ok = false;
      }
      continue;
    }
    if (!stmt.block) continue;
    const auto& b = *stmt.block;
    const FieldDesc* f = schema.find(b.name);
    if (f == nullptr) {
      diags->addError(file, b.name_range, strCat("unrecognized block name \"", b.name, "\""));
      ok = false;
      continue;
    }
    if (f->kind == FieldDesc::Kind::kAttr) {
      diags->addError(file, b.name_range,
                      strCat("\"", b.name, "\" must be an attribute, but is used as a block"));
      ok = false;
      continue;
    }
    if (b.label) {
      diags->addError(file, b.label_range,
                      strCat("block \"", b.name, "\" does not support specifying labels"));
      ok = false;
      continue;
    }
    if (f->kind != FieldDesc::Kind::kBlockList) {
      if (seen_blocks.count(b.name) != 0) {
        diags->addError(file, b.name_range,
                        strCat("block \"", b.name, "\" may only be specified once"));
        ok = false;
        continue;
      }
    }
    seen_blocks.emplace(b.name, b.name_range);
    const SchemaBase& bs = f->block_schema();
    void* child = obj != nullptr ? f->block_enter(obj) : nullptr;
    if (!walkBody(b.body, bs, child, b.name_range, file, diags, ctx)) {
      ok = false;
      continue;
    }
    if (child != nullptr) {
      auto st = bs.validate(child);
      if (!st.ok()) {
        diags->addError(file, b.name_range, std::string(st.message()));
        ok = false;
      }
    }
  }
  for (const auto& f : schema.fields()) {
    if (!f.required) continue;
    if (f.kind == FieldDesc::Kind::kAttr && seen_attrs.count(f.name) == 0) {
      diags->addError(file, owner_range, strCat("missing required attribute \"", f.name, "\""));
      ok = false;
    } else if (f.kind != FieldDesc::Kind::kAttr && seen_blocks.count(f.name) == 0) {
      diags->addError(file, owner_range, strCat("missing required block \"", f.name, "\""));
      ok = false;
    }
  }
  return ok;
}

}  // namespace

bool decodeBody(const syntax::ast::Body& body, const SchemaBase& schema, void* obj,
                syntax::Range owner_range, DecodeContext& ctx) {
  return walkBody(body, schema, obj, owner_range, ctx.file, ctx.diags, &ctx);
}

bool checkBodyShape(const syntax::ast::Body& body, const SchemaBase& schema,
                    syntax::Range owner_range, const std::string& file,
                    syntax::Diagnostics* diags) {
  return walkBody(body, schema, nullptr, owner_range, file, diags, nullptr);
}

}  // namespace telegate::runtime
