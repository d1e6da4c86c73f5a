// libtpusim_c_systemc.so: the one definition of sc_main that libtpusim_c.so's users need.
// libsystemc.so is linked with BIND_NOW and references sc_main (its own main() would call it), so the
// symbol must resolve dynamically when libtpusim_c.so is loaded; libtpusim_c.so exports only
// tpusim_get_api, so this small library (a dependency of it) provides sc_main instead. tpusim never
// calls it (the cycle engine runs SystemC on its own thread); a program's own sc_main still wins.
extern "C" __attribute__((weak, visibility("default"))) int sc_main(int /*argc*/, char** /*argv*/) {
  return 0;
}
