#include "src/runtime/docs.h"

#include "src/common/strings.h"
#include "src/syntax/value.h"

namespace telegate::runtime {

namespace {

std::string cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string defaultText(const syntax::Value& v) {
  if (v.isNull()) return "";
  if (v.isSecret()) return v.asString().empty() ? "" : "(secret)";
  if (v.type() == syntax::ValueType::kString && v.asString().empty()) return "";
  if (v.type() == syntax::ValueType::kArray && v.asArray().empty()) return "";
  if (v.type() == syntax::ValueType::kObject && v.asObject().empty()) return "";
  return strCat("`", syntax::printValue(v), "`");
}

void renderBlock(const std::string& path, const SchemaBase& schema, std::string* out) {
  syntax::Value defaults = schema.encodeDefaults();
  const syntax::Object* dobj =
      defaults.type() == syntax::ValueType::kObject ? &defaults.asObject() : nullptr;
  bool any_attr = false;
  for (const auto& f : schema.fields()) any_attr = any_attr || f.kind == FieldDesc::Kind::kAttr;
  if (any_attr) {
    strAppend(out, "| Name | Type | Default | Required | Description |\n",
              "|------|------|---------|----------|-------------|\n");
    for (const auto& f : schema.fields()) {
      if (f.kind != FieldDesc::Kind::kAttr) continue;
      std::string def;
      if (dobj != nullptr && !f.required) {
        auto it = dobj->find(f.name);
        if (it != dobj->end()) def = defaultText(it->second);
      }
      strAppend(out, "| `", f.name, "` | ", cell(f.type_name), " | ", cell(def), " | ",
                f.required ? "yes" : "no", " | ", cell(f.doc), " |\n");
    }
    out->push_back('\n');
  }
  for (const auto& f : schema.fields()) {
    if (f.kind == FieldDesc::Kind::kAttr) continue;
    std::string child = path.empty() ? f.name : strCat(path, " > ", f.name);
    const char* how = f.kind == FieldDesc::Kind::kBlockList ? "repeatable"
                      : f.required                          ? "required"
                                                            : "optional";
    strAppend(out, "Block `", child, "` (", how, ")", f.doc.empty() ? "" : ": ", f.doc, ".\n\n");
    renderBlock(child, f.block_schema(), out);
  }
}

}  // namespace

std::string componentReference(const Registry& registry) {
  std::string out;
  for (const Registration* r : registry.all()) {
    strAppend(&out, "### ", r->name, "\n\n", r->summary,
              " Stability: ", stabilityName(r->stability), ".\n\n");
    renderBlock("", *r->schema, &out);
    if (r->exports.empty()) {
      out += "Exports: none.\n\n";
    } else {
      out += "Exports:\n\n| Name | Type | Description |\n|------|------|-------------|\n";
      for (const auto& e : r->exports) {
        strAppend(&out, "| `", e.name, "` | ", cell(e.type), " | ", cell(e.doc), " |\n");
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace telegate::runtime
