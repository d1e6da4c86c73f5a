// tpusim_rtlgen OUT_DIR ARCH...: writes OUT_DIR/isa_pkg.sv and OUT_DIR/arch_pkg_<arch>.sv per ARCH
// (a preset name or .textproto path). Exit 1 with one line on error.
#include <fstream>
#include <iostream>
#include <string>

#include "tpusim/isa/arch_config.h"
#include "tpusim/rtl/package_gen.h"

namespace {
bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: tpusim_rtlgen OUT_DIR [ARCH...]\n";
    return 2;
  }
  const std::string dir = argv[1];
  if (!WriteFile(dir + "/isa_pkg.sv", tpusim::rtl::GenerateIsaPackage())) {
    std::cerr << "tpusim_rtlgen: error: cannot write " << dir << "/isa_pkg.sv\n";
    return 1;
  }
  for (int i = 2; i < argc; ++i) {
    auto arch = tpusim::isa::LoadArch(argv[i]);
    if (!arch.ok()) {
      std::cerr << "tpusim_rtlgen: error: " << arch.status().message() << "\n";
      return 1;
    }
    const std::string path = dir + "/arch_pkg_" + arch->name() + ".sv";
    if (!WriteFile(path, tpusim::rtl::GenerateArchPackage(*arch))) {
      std::cerr << "tpusim_rtlgen: error: cannot write " << path << "\n";
      return 1;
    }
  }
  return 0;
}
