#include "veil/fhe/params.h"

namespace veil::fhe {

const Parameters* params_by_id(std::uint8_t id) {
  if (id == kParamMessage2Carry2KsPbsTUniform2M128.id) return &kParamMessage2Carry2KsPbsTUniform2M128;
  if (id == kParamInsecureTestOnly.id) return &kParamInsecureTestOnly;
  return nullptr;
}

const Parameters* params_by_name(std::string_view name) {
  if (name == "default" || name == kParamMessage2Carry2KsPbsTUniform2M128.name) {
    return &kParamMessage2Carry2KsPbsTUniform2M128;
  }
  if (name == "test" || name == kParamInsecureTestOnly.name) return &kParamInsecureTestOnly;
  return nullptr;
}

}  // namespace veil::fhe
