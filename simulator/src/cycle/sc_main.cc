// libsystemc.so has its own main() that calls sc_main, so it leaves sc_main undefined. tpusim
// never uses that main (the engine runs SystemC on its own thread), but the symbol must resolve in
// every program that links the engine: this weak definition does, and a program that defines its
// own sc_main still wins. simulator/CMakeLists.txt makes the linker always pull this file in.
extern "C" __attribute__((weak)) int sc_main(int /*argc*/, char** /*argv*/) { return 0; }
