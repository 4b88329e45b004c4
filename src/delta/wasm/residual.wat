;; Residual inversion with 128-bit SIMD (docs/spec/patch.md, "D segments"): NEW element = OLD element
;; combined with the residual element gathered from w byte planes. 'x' XORs the bit patterns; 's' adds
;; the zigzag-decoded difference ((z >>> 1) ^ -(z & 1)) modulo 2^(8w). Compiled by scripts/build-wasm.ts into
;; residual-wasm.ts; the scalar JS in ../residual.ts is the reference. Each function handles the
;; first `n` elements, `n` a multiple of 16 (the caller does the rest): OLD at $q is overwritten
;; with NEW in place; plane k's bytes for those elements start at $pk.
(module
  (memory (export "memory") 1)

  ;; gather 16 4-byte elements from 4 planes at offset $i: elements 4j..4j+3 in $w0..$w3
  (func (export "inv4") (param $q i32) (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32) (param $n i32) (param $sub i32)
    (local $i i32) (local $o i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $ablo v128) (local $abhi v128) (local $cdlo v128) (local $cdhi v128)
    (local $z v128) (local $one v128)
    (local.set $one (i32x4.splat (i32.const 1)))
    (local.set $o (local.get $q))
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $a (v128.load (i32.add (local.get $p0) (local.get $i))))
        (local.set $b (v128.load (i32.add (local.get $p1) (local.get $i))))
        (local.set $c (v128.load (i32.add (local.get $p2) (local.get $i))))
        (local.set $d (v128.load (i32.add (local.get $p3) (local.get $i))))
        (local.set $ablo (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $a) (local.get $b)))
        (local.set $abhi (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $a) (local.get $b)))
        (local.set $cdlo (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $c) (local.get $d)))
        (local.set $cdhi (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $c) (local.get $d)))
        (if (local.get $sub)
          (then
            (local.set $z (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $ablo) (local.get $cdlo)))
            (v128.store offset=0 (local.get $o) (i32x4.add (v128.load offset=0 (local.get $o))
              (v128.xor (i32x4.shr_u (local.get $z) (i32.const 1)) (i32x4.neg (v128.and (local.get $z) (local.get $one))))))
            (local.set $z (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $ablo) (local.get $cdlo)))
            (v128.store offset=16 (local.get $o) (i32x4.add (v128.load offset=16 (local.get $o))
              (v128.xor (i32x4.shr_u (local.get $z) (i32.const 1)) (i32x4.neg (v128.and (local.get $z) (local.get $one))))))
            (local.set $z (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $abhi) (local.get $cdhi)))
            (v128.store offset=32 (local.get $o) (i32x4.add (v128.load offset=32 (local.get $o))
              (v128.xor (i32x4.shr_u (local.get $z) (i32.const 1)) (i32x4.neg (v128.and (local.get $z) (local.get $one))))))
            (local.set $z (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $abhi) (local.get $cdhi)))
            (v128.store offset=48 (local.get $o) (i32x4.add (v128.load offset=48 (local.get $o))
              (v128.xor (i32x4.shr_u (local.get $z) (i32.const 1)) (i32x4.neg (v128.and (local.get $z) (local.get $one)))))))
          (else
            (v128.store offset=0 (local.get $o) (v128.xor (v128.load offset=0 (local.get $o))
              (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $ablo) (local.get $cdlo))))
            (v128.store offset=16 (local.get $o) (v128.xor (v128.load offset=16 (local.get $o))
              (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $ablo) (local.get $cdlo))))
            (v128.store offset=32 (local.get $o) (v128.xor (v128.load offset=32 (local.get $o))
              (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $abhi) (local.get $cdhi))))
            (v128.store offset=48 (local.get $o) (v128.xor (v128.load offset=48 (local.get $o))
              (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $abhi) (local.get $cdhi))))))
        (local.set $o (i32.add (local.get $o) (i32.const 64)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $top)))
  )

  (func (export "inv2") (param $q i32) (param $p0 i32) (param $p1 i32) (param $n i32) (param $sub i32)
    (local $i i32) (local $o i32) (local $a v128) (local $b v128) (local $z v128) (local $one v128)
    (local.set $one (i16x8.splat (i32.const 1)))
    (local.set $o (local.get $q))
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $a (v128.load (i32.add (local.get $p0) (local.get $i))))
        (local.set $b (v128.load (i32.add (local.get $p1) (local.get $i))))
        (if (local.get $sub)
          (then
            (local.set $z (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $a) (local.get $b)))
            (v128.store offset=0 (local.get $o) (i16x8.add (v128.load offset=0 (local.get $o))
              (v128.xor (i16x8.shr_u (local.get $z) (i32.const 1)) (i16x8.neg (v128.and (local.get $z) (local.get $one))))))
            (local.set $z (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $a) (local.get $b)))
            (v128.store offset=16 (local.get $o) (i16x8.add (v128.load offset=16 (local.get $o))
              (v128.xor (i16x8.shr_u (local.get $z) (i32.const 1)) (i16x8.neg (v128.and (local.get $z) (local.get $one)))))))
          (else
            (v128.store offset=0 (local.get $o) (v128.xor (v128.load offset=0 (local.get $o))
              (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $a) (local.get $b))))
            (v128.store offset=16 (local.get $o) (v128.xor (v128.load offset=16 (local.get $o))
              (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $a) (local.get $b))))))
        (local.set $o (i32.add (local.get $o) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $top)))
  )

  (func (export "inv1") (param $q i32) (param $p0 i32) (param $n i32) (param $sub i32)
    (local $i i32) (local $z v128) (local $one v128)
    (local.set $one (i8x16.splat (i32.const 1)))
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $z (v128.load (i32.add (local.get $p0) (local.get $i))))
        (if (local.get $sub)
          (then
            (local.set $z (v128.xor (i8x16.shr_u (local.get $z) (i32.const 1)) (i8x16.neg (v128.and (local.get $z) (local.get $one)))))
            (v128.store (i32.add (local.get $q) (local.get $i)) (i8x16.add (v128.load (i32.add (local.get $q) (local.get $i))) (local.get $z))))
          (else
            (v128.store (i32.add (local.get $q) (local.get $i)) (v128.xor (v128.load (i32.add (local.get $q) (local.get $i))) (local.get $z)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $top)))
  )
)
