// One processing element in bf16 mode: y = psum + a * b with a, b bf16 and psum / y fp32, the
// product exact in fp32 and the sum rounded to nearest even, subnormals flushed on input and
// output: numerics::MacBf16(psum, Bf16BitsToF32(a), Bf16BitsToF32(b)) = AddF32(psum, MulF32(a, b)),
// bit for bit. NaN priority (numerics.cc's explicit rule): psum, then a, then b.
// Combinational.
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
      .a({a, 16'd0}),
      .b({b, 16'd0}),
      .y(product)
  );
  fp32_add_ftz add (
      .a(psum),
      .b(product),
      .y(y)
  );
endmodule
