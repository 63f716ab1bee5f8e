package main

// Example runs the write-up's case end to end.
func Example() {
	main()
	// Output:
	// index.node: 4720-byte initial-exec TLS block (align 32), 4248 bytes of it THREAD_RNG_KEY
	// default surplus 1664: static TLS 4224 bytes, 144 used at start-up, 1712 free
	// dlopen: /home/amos/work/valet/artifacts/linux-x86_64/index.node: cannot allocate memory in static TLS block (needs 4720, 1712 free)
	// smallest fix: GLIBC_TUNABLES=glibc.rtld.optional_static_tls=3505 (one byte less still fails: true); glibc.rtld.nns alone: 15
	// with the fix: dlopen ok
	// without THREAD_RNG_KEY the block is 472 bytes: dlopen ok under the default surplus
}
