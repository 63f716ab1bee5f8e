package tlscase

func init() { register(electronAddon) }

// electronAddon is the seed write-up "the static TLS block murder
// mystery" (fasterthanli.me, 2020): a Node addon whose initial-exec TLS
// holds rand 0.6's 4,248-byte THREAD_RNG_KEY.
func electronAddon() *Case {
	return &Case{
		Name:    "electron-addon-rand",
		Summary: "An Electron/Node addon (index.node, Rust + Go + C) whose 0x1270-byte initial-exec TLS block cannot be placed when dlopened: \"cannot allocate memory in static TLS block\"",
		Glibc:   "2.31", Arch: "x86_64",
		Modules: []Module{
			{Name: "electron", Main: true, Needs: []string{"libc.so.6"}},
			{Name: "libc.so.6", TLS: &Block{Size: 0x90, Align: 8, VAddr: 0x1bd440}, Access: "initial-exec", Needs: []string{"ld-linux-x86-64.so.2"}},
			{Name: "ld-linux-x86-64.so.2"},
			{Name: "index.node", TLS: &Block{Size: 0x1270, Align: 0x20, VAddr: 0x137abe0}, Access: "initial-exec", Needs: []string{"libc.so.6"}},
		},
		Dlopens: []string{"index.node"},
		Expect:  []bool{false},
		Fixes: []Fix{
			{Name: "LD_PRELOAD=index.node (the TLS fits, but Node then reports \"Module did not self-register\")", Preload: []string{"index.node"}, Works: true,
				Source: "the seed: \"By preloading it, I was running the initializer before node itself was loaded, so the size of the TLS static block was not an issue\""},
			{Name: "rand 0.7 instead of 0.6: the block without THREAD_RNG_KEY's 0x1098 bytes", Resize: map[string]uint64{"index.node": 0x1270 - 0x1098}, Works: true,
				Source: "the seed: THREAD_RNG_KEY is 0x1098 bytes of .tbss, from rand 0.6.5 via the backoff crate"},
		},
		Published: []string{
			"index.node PT_TLS MemSiz 0x1270, Align 0x20 (readelf -Wl in the seed)",
			"THREAD_RNG_KEY 0x1098 = 4248 bytes of .tbss (llvm-objdump in the seed)",
			"libc.so.6 PT_TLS MemSiz 0x90 = 144 bytes (readelf in the seed)",
			"error: index.node: cannot allocate memory in static TLS block",
		},
		Notes: []string{
			"The seed names no glibc release; its libraries (libicu 67, libcrypto 1.1 under /usr/lib) match Arch Linux in mid-2020, whose glibc was 2.31: chosen. Any release fails the same way, since 0x1270 bytes exceed the whole 1664-byte surplus.",
			"Electron's own TLS is not in the write-up and is left out; libc's 144 bytes are the start-up block.",
		},
	}
}
