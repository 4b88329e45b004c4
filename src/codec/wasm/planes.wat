;; Byte-plane transposes with 128-bit SIMD (spec docs/spec/mcz.md §5 splitPlanes/joinPlanes).
;; Compiled by scripts/build-wasm.ts into planes-wasm.ts; the JS fallback in ../planes.ts is the
;; reference. Every function transposes the first `n` elements, `n` a multiple of 16 (the caller
;; does the rest); the planes are laid end to end `stride` bytes apart: plane k at base + k*stride.
(module
  (memory (export "memory") 1)

  ;; 4 planes ($stride bytes apart) at $src -> n 4-byte elements at $dst
  (func (export "join4") (param $src i32) (param $dst i32) (param $n i32) (param $stride i32)
    (local $i i32) (local $o i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $ablo v128) (local $abhi v128) (local $cdlo v128) (local $cdhi v128)
    (local.set $p1 (i32.add (local.get $src) (local.get $stride)))
    (local.set $p2 (i32.add (local.get $p1) (local.get $stride)))
    (local.set $p3 (i32.add (local.get $p2) (local.get $stride)))
    (local.set $o (local.get $dst))
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $a (v128.load (i32.add (local.get $src) (local.get $i))))
        (local.set $b (v128.load (i32.add (local.get $p1) (local.get $i))))
        (local.set $c (v128.load (i32.add (local.get $p2) (local.get $i))))
        (local.set $d (v128.load (i32.add (local.get $p3) (local.get $i))))
        (local.set $ablo (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $a) (local.get $b)))
        (local.set $abhi (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $a) (local.get $b)))
        (local.set $cdlo (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $c) (local.get $d)))
        (local.set $cdhi (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $c) (local.get $d)))
        (v128.store offset=0 (local.get $o) (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $ablo) (local.get $cdlo)))
        (v128.store offset=16 (local.get $o) (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $ablo) (local.get $cdlo)))
        (v128.store offset=32 (local.get $o) (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $abhi) (local.get $cdhi)))
        (v128.store offset=48 (local.get $o) (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $abhi) (local.get $cdhi)))
        (local.set $o (i32.add (local.get $o) (i32.const 64)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $top)))
  )

  ;; n 4-byte elements at $src -> 4 planes ($stride bytes apart) at $dst
  (func (export "split4") (param $src i32) (param $dst i32) (param $n i32) (param $stride i32)
    (local $i i32) (local $s i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $x0 v128) (local $y0 v128) (local $x1 v128) (local $y1 v128)
    (local.set $p1 (i32.add (local.get $dst) (local.get $stride)))
    (local.set $p2 (i32.add (local.get $p1) (local.get $stride)))
    (local.set $p3 (i32.add (local.get $p2) (local.get $stride)))
    (local.set $s (local.get $src))
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $v0 (v128.load offset=0 (local.get $s)))
        (local.set $v1 (v128.load offset=16 (local.get $s)))
        (local.set $v2 (v128.load offset=32 (local.get $s)))
        (local.set $v3 (v128.load offset=48 (local.get $s)))
        (local.set $x0 (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $v0) (local.get $v1)))
        (local.set $y0 (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $v0) (local.get $v1)))
        (local.set $x1 (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $v2) (local.get $v3)))
        (local.set $y1 (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $v2) (local.get $v3)))
        (v128.store (i32.add (local.get $dst) (local.get $i)) (i8x16.shuffle 0 2 4 6 8 10 12 14 16 18 20 22 24 26 28 30 (local.get $x0) (local.get $x1)))
        (v128.store (i32.add (local.get $p1) (local.get $i)) (i8x16.shuffle 1 3 5 7 9 11 13 15 17 19 21 23 25 27 29 31 (local.get $x0) (local.get $x1)))
        (v128.store (i32.add (local.get $p2) (local.get $i)) (i8x16.shuffle 0 2 4 6 8 10 12 14 16 18 20 22 24 26 28 30 (local.get $y0) (local.get $y1)))
        (v128.store (i32.add (local.get $p3) (local.get $i)) (i8x16.shuffle 1 3 5 7 9 11 13 15 17 19 21 23 25 27 29 31 (local.get $y0) (local.get $y1)))
        (local.set $s (i32.add (local.get $s) (i32.const 64)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $top)))
  )

  ;; 2 planes ($stride bytes apart) at $src -> n 2-byte elements at $dst
  (func (export "join2") (param $src i32) (param $dst i32) (param $n i32) (param $stride i32)
    (local $i i32) (local $o i32) (local $p1 i32) (local $a v128) (local $b v128)
    (local.set $p1 (i32.add (local.get $src) (local.get $stride)))
    (local.set $o (local.get $dst))
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $a (v128.load (i32.add (local.get $src) (local.get $i))))
        (local.set $b (v128.load (i32.add (local.get $p1) (local.get $i))))
        (v128.store offset=0 (local.get $o) (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $a) (local.get $b)))
        (v128.store offset=16 (local.get $o) (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $a) (local.get $b)))
        (local.set $o (i32.add (local.get $o) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $top)))
  )

  ;; n 2-byte elements at $src -> 2 planes ($stride bytes apart) at $dst
  (func (export "split2") (param $src i32) (param $dst i32) (param $n i32) (param $stride i32)
    (local $i i32) (local $s i32) (local $p1 i32) (local $v0 v128) (local $v1 v128)
    (local.set $p1 (i32.add (local.get $dst) (local.get $stride)))
    (local.set $s (local.get $src))
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $v0 (v128.load offset=0 (local.get $s)))
        (local.set $v1 (v128.load offset=16 (local.get $s)))
        (v128.store (i32.add (local.get $dst) (local.get $i)) (i8x16.shuffle 0 2 4 6 8 10 12 14 16 18 20 22 24 26 28 30 (local.get $v0) (local.get $v1)))
        (v128.store (i32.add (local.get $p1) (local.get $i)) (i8x16.shuffle 1 3 5 7 9 11 13 15 17 19 21 23 25 27 29 31 (local.get $v0) (local.get $v1)))
        (local.set $s (i32.add (local.get $s) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $top)))
  )
)
