package tlscase

func init() {
	register(libgompRmath)
	register(jemallocDlopen)
	register(redisAudit)
	register(cefLibcef)
}

// libgompRmath is JuliaStats/StatsFuns.jl#218 (fixed by
// JuliaStats/Rmath-julia#58): on aarch64 glibc 2.27, StatsFuns 2.2 loads
// libRmath-julia (856 bytes of TLS reached through TLS descriptors, which
// glibc before 2.32 places in the surplus whenever it fits) before
// CompilerSupportLibraries_jll dlopens libgomp, whose 136 bytes of
// initial-exec TLS then no longer fit.
func libgompRmath() *Case {
	return &Case{
		Name:    "libgomp-aarch64-glibc-2.27",
		Summary: "Julia on aarch64 Ubuntu 18.04: libgomp.so.1 (136 bytes of initial-exec TLS) cannot be dlopened after libRmath-julia's 856-byte descriptor TLS took the static surplus",
		Glibc:   "2.27", Arch: "aarch64",
		Modules: []Module{
			{Name: "julia", Main: true, Needs: []string{"libc.so.6"}},
			{Name: "libc.so.6", TLS: &Block{Size: 144, Align: 16}, Access: "initial-exec", Needs: []string{"ld-linux-aarch64.so.1"}},
			{Name: "ld-linux-aarch64.so.1"},
			{Name: "julia-runtime-libraries", TLS: &Block{Size: 736, Align: 16}, Access: "descriptor", Needs: []string{"libc.so.6"}},
			{Name: "libRmath-julia.so", TLS: &Block{Size: 856, Align: 16}, Access: "descriptor", Needs: []string{"libc.so.6"}},
			{Name: "libgomp.so.1", TLS: &Block{Size: 136, Align: 8}, Access: "initial-exec", Needs: []string{"libc.so.6"}},
		},
		Dlopens: []string{"julia-runtime-libraries", "libRmath-julia.so", "libgomp.so.1"},
		Expect:  []bool{true, true, false},
		Fixes: []Fix{
			{Name: "load CompilerSupportLibraries_jll (libgomp) before Rmath", Dlopens: []string{"julia-runtime-libraries", "libgomp.so.1", "libRmath-julia.so"}, Works: true,
				Source: "StatsFuns.jl#218: `using CompilerSupportLibraries_jll, Rmath` works, `using Rmath, CompilerSupportLibraries_jll` fails"},
			{Name: "Rmath_jll 0.5.2 (its TLS cut from 856 to 16 bytes)", Resize: map[string]uint64{"libRmath-julia.so": 16}, Works: true,
				Source: "Rmath-julia#58; StatsFuns.jl#218: \"the load order here does not matter anymore\""},
			{Name: "LD_PRELOAD=libgomp.so.1", Preload: []string{"libgomp.so.1"}, Works: true,
				Source: "the workaround of scikit-learn#17231, LightGBM#6509, opencv#14884 for the same error"},
			{Name: "GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096 (the tunable exists only from glibc 2.32)", Tunables: "glibc.rtld.optional_static_tls=4096", Works: false,
				Source: "Rmath-julia#58: \"only exists from glibc 2.32, so it does not help the affected users\""},
		},
		Published: []string{
			"glibc 2.27, Ubuntu 18.04, aarch64; Julia 1.11.3 (StatsFuns.jl#218)",
			"libgomp needs 136 bytes of initial-exec TLS; libRmath-julia's PT_TLS is 856 bytes, placed opportunistically (StatsFuns.jl#218)",
			"error: libgomp.so.1: cannot allocate memory in static TLS block",
			"fixes: load libgomp first; Rmath_jll 0.5.2 with 16 bytes of TLS (StatsFuns.jl#218, Rmath-julia#58)",
		},
		Notes: []string{
			"The report does not name what else took surplus in the Julia process before Rmath; with 1664 bytes of surplus, 856 + 136 would fit alone, so earlier descriptor TLS of between about 672 and 808 bytes must have been placed (arithmetic from the report's figures). It is modelled as one dlopen, julia-runtime-libraries, of 736 bytes: chosen.",
			"Alignments are not in the report: libgomp's 8 is Debian 12's arm64 build (readelf), the others 16 are chosen; libc's 144 bytes are Debian 12's arm64 libc, a stand-in (it is start-up TLS and does not use surplus).",
			"On aarch64 glibc 2.27 the static block starts with 16-byte alignment (TCB_ALIGNMENT was 16 until 2.35).",
		},
	}
}

// jemallocDlopen is jemalloc/jemalloc#937 (and #1237, #1249): jemalloc 5
// keeps its thread state in initial-exec TLS; dlopened (or a library that
// links it statically) on glibc 2.19 it does not fit.
func jemallocDlopen() *Case {
	return &Case{
		Name:    "jemalloc5-dlopen-glibc-2.19",
		Summary: "jemalloc 5 (initial-exec TLS) dlopened on Ubuntu 14.04, glibc 2.19: libjemalloc.so: cannot allocate memory in static TLS block",
		Glibc:   "2.19", Arch: "x86_64",
		Modules: []Module{
			{Name: "python", Main: true, Needs: []string{"libc.so.6"}},
			{Name: "libc.so.6", TLS: &Block{Size: 144, Align: 16}, Access: "initial-exec", Needs: []string{"ld-linux-x86-64.so.2"}},
			{Name: "ld-linux-x86-64.so.2"},
			{Name: "libjemalloc.so.2", TLS: &Block{Size: 2632, Align: 8}, Access: "initial-exec", Needs: []string{"libc.so.6"}},
		},
		Dlopens: []string{"libjemalloc.so.2"},
		Expect:  []bool{false},
		Fixes: []Fix{
			{Name: "jemalloc configured with --disable-initial-exec-tls (jemalloc 5.1, PR #1180)", Dynamic: []string{"libjemalloc.so.2"}, Works: true,
				Source: "jemalloc#937, #1237; rust jemalloc-sys feature disable_initial_exec_tls (rust_libloading#67)"},
			{Name: "LD_PRELOAD=libjemalloc.so.2", Preload: []string{"libjemalloc.so.2"}, Works: true,
				Source: "jemalloc#937 (one user found preloading \"was causing its own issues\")"},
		},
		Published: []string{
			"Ubuntu 14.04 (glibc 2.19): dlopen of libjemalloc.so fails with \"cannot allocate memory in static TLS block\" (jemalloc#937)",
			"jemalloc 5 marks its TLS initial-exec (maintainer, jemalloc#937); jemalloc 4.5 worked, 5.0.1 fails (jemalloc#1237)",
			"fix: --disable-initial-exec-tls (jemalloc PR #1180)",
		},
		Notes: []string{
			"The reports give no TLS size for jemalloc 5.0; Debian 12's libjemalloc2 5.3.0 has 2632 bytes (align 8, one R_X86_64_TPOFF64), used as a stand-in: it exceeds the 1664-byte surplus of every glibc before 2.32, so the dlopen fails whatever the host's other TLS.",
			"The host is a Python process (one of #937's hosts); its own TLS is not given and does not use surplus. libc's 144 bytes are Debian 12's, a stand-in.",
		},
	}
}

// redisAudit is flox/flox#2976: with flox's LD_AUDIT module, redis-server
// (linked against nixpkgs' initial-exec jemalloc) needs
// glibc.rtld.optional_static_tls=1441 on x86_64.
func redisAudit() *Case {
	c := &Case{
		Name:    "redis-ld-audit-x86_64",
		Summary: "redis-server under LD_AUDIT=ld-floxlib.so: with an audit module every start-up library's initial-exec TLS goes through the surplus, and jemalloc's no longer fits",
		Glibc:   "2.40", Arch: "x86_64",
		Audit: []string{"ld-floxlib.so"},
		Modules: []Module{
			{Name: "redis-server", Main: true, Needs: []string{"libjemalloc.so.2", "libc.so.6"}},
			{Name: "libjemalloc.so.2", TLS: &Block{Size: 2632, Align: 8}, Access: "initial-exec", Needs: []string{"libc.so.6"}},
			{Name: "libc.so.6", TLS: &Block{Size: 144, Align: 16}, Access: "initial-exec", Needs: []string{"ld-linux-x86-64.so.2"}},
			{Name: "ld-linux-x86-64.so.2"},
			{Name: "ld-floxlib.so", Needs: []string{"libc.so.6"}},
		},
		Dlopens:    []string{},
		Expect:     []bool{},
		StartFails: true,
		Fixes: []Fix{
			{Name: "GLIBC_TUNABLES=glibc.rtld.optional_static_tls=1441 (the published minimum on x86_64)", Tunables: "glibc.rtld.optional_static_tls=1441", Works: true, Source: "flox/flox#2976"},
			{Name: "optional_static_tls=1440, one byte less", Tunables: "glibc.rtld.optional_static_tls=1440", Works: false, Source: "flox/flox#2976 gives 1441 as the minimum"},
			{Name: "GLIBC_TUNABLES=glibc.rtld.optional_static_tls=2500 (what flox set)", Tunables: "glibc.rtld.optional_static_tls=2500", Works: true, Source: "flox/flox#2976"},
		},
		Published: []string{
			"redis-server needs glibc.rtld.optional_static_tls=1441 on x86_64-linux (1777 on aarch64-linux) under flox's LD_AUDIT (flox/flox#2976)",
			"one audit module, ld-floxlib.so, which links libc (flox repository)",
			"redis in nixpkgs links the shared jemalloc, built with initial-exec TLS (nixpkgs redis and jemalloc packages)",
		},
		Notes: []string{
			"The report gives neither the glibc release nor the TLS sizes. glibc 2.40 (nixpkgs at the time) is chosen; jemalloc's 2632 bytes are Debian 12's x86_64 libjemalloc2 5.3.0 and libc's 144 bytes Debian 12's, stand-ins. With them the model's smallest working value is the published 1441: libc twice (the audit namespace has its own) plus jemalloc make 2920 bytes, which need more than 1440 and at most 1441's budget.",
			"The aarch64 figure (1777) is not reproduced: Debian's arm64 stand-ins (144 + 144 + 2696 bytes) fall about 240 bytes short of what 1777 implies, so a size in the nixpkgs aarch64 build (jemalloc with 64 KiB pages, or another library) is unknown.",
		},
	}
	// The --disable-initial-exec-tls fix of the jemalloc case, as a
	// module change.
	return c
}

// cef118 is the chosen size of CEF 118's TLS block (see the case's
// notes).
const cef118 = 1048

// cefLibcef is chromiumembedded/cef#3616: libcef.so's TLS grew by over
// 700 bytes in CEF 119 (libxml2's 712-byte globalState), past the
// 1664-byte surplus, so dlopen of libcef.so fails; 512 more bytes of
// optional_static_tls fix it.
func cefLibcef() *Case {
	return &Case{
		Name:    "cef-119-x64",
		Summary: "Chromium Embedded Framework 119 on x64: dlopen of libcef.so (its initial-exec TLS grown by libxml2's 712-byte globalState) fails; optional_static_tls=1024 or preloading libcef.so fixes it",
		Glibc:   "2.34", Arch: "x86_64",
		Modules: []Module{
			{Name: "host", Main: true, Needs: []string{"libc.so.6"}},
			{Name: "libc.so.6", TLS: &Block{Size: 144, Align: 16}, Access: "initial-exec", Needs: []string{"ld-linux-x86-64.so.2"}},
			{Name: "ld-linux-x86-64.so.2"},
			{Name: "libcef.so", TLS: &Block{Size: cef118 + 712, Align: 64}, Access: "initial-exec", Needs: []string{"libc.so.6"}},
		},
		Dlopens: []string{"libcef.so"},
		Expect:  []bool{false},
		Fixes: []Fix{
			{Name: "GLIBC_TUNABLES=glibc.rtld.optional_static_tls=1024", Tunables: "glibc.rtld.optional_static_tls=1024", Works: true,
				Source: "cef#3616: \"By increasing the tunable by just another 512 bytes to 1024, you can successfully load the 'large' libcef.so\""},
			{Name: "GLIBC_TUNABLES=glibc.rtld.optional_static_tls=16384", Tunables: "glibc.rtld.optional_static_tls=16384", Works: true,
				Source: "suggested in SpiralP/classicube-cef-plugin#32"},
			{Name: "LD_PRELOAD=libcef.so", Preload: []string{"libcef.so"}, Works: true,
				Source: "cef#3616 (\"no real solution\" for loading into a running JVM); classicube-cef-plugin#32"},
			{Name: "CEF with libxml2's compiler TLS disabled (CEF commit be734efe6)", Resize: map[string]uint64{"libcef.so": cef118}, Works: true,
				Source: "chromiumembedded/cef be734efe6, \"linux: Disable compiler TLS in libxml2 (fixes #3616)\""},
		},
		Published: []string{
			"CEF 119 on Linux x64: \"The TLS segment size of Chromium 119 increases by over 700 bytes\"; libxml2's globalState is 0x2c8 = 712 bytes of .tbss (cef#3616)",
			"error: libcef.so: cannot allocate memory in static TLS block (cef#3616)",
			"optional_static_tls=1024 loads it (cef#3616); LD_PRELOAD=libcef.so works (cef#3616, classicube-cef-plugin#32)",
			"a later x64 libcef.so without that growth: TLS MemSiz 0x3d8 = 984 bytes, align 0x40 (cef#3616, CEF 126 before commit 701fc03)",
		},
		Notes: []string{
			"The 118/119 readelf figures are not in the stored copy of the report. CEF 118's block is taken as 1048 bytes (chosen: it loads under the default surplus, and lies near the 984 bytes a later build had without the growth), so 119's is 1048 + 712 = 1760: over the 1712 bytes the default surplus leaves here, within what optional_static_tls=1024 adds, as the report says.",
			"glibc 2.34 is chosen (the report says the tunable works on Rocky Linux 9, which ships 2.34); the host is a plain C program calling dlopen, one of the report's reproducers.",
			"arm64 (cef#3803: CEF 129, 1072 bytes) is left out: its alignment is not given, and on aarch64 an alignment above the static block's fails whatever the size.",
		},
	}
}
