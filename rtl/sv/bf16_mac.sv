// One processing element in bf16 mode: y = psum + a * b with a, b bf16 and psum / y fp32, the
// product exact in fp32 and the sum rounded to nearest even, subnormals flushed on input and output:
// numerics::MacBf16(psum, Bf16BitsToF32(a), Bf16BitsToF32(b)), bit for bit, which is
// AddF32(psum, MulF32(b, a)).
// NaN priority: psum, then b, then a. The reference's multiply is written a * b, but g++ -O2 emits
// it as b * a (mulss keeps the first source's NaN), in MacBf16 and TileDotBf16 alike; test_rtl's
// MacBf16 NaN cases catch a change. Combinational.
module bf16_mac (
    input  logic [31:0] psum,
    input  logic [15:0] a,
    input  logic [15:0] b,
    output logic [31:0] y
);
  logic [31:0] product;

  // A bf16 value is the top half of its fp32 value; bf16 subnormals become fp32 subnormals, which
  // the multiplier flushes, as Bf16BitsToF32 does.
  fp32_mul_ftz mul (
      .a({b, 16'd0}),
      .b({a, 16'd0}),
      .y(product)
  );
  fp32_add_ftz add (
      .a(psum),
      .b(product),
      .y(y)
  );
endmodule
