//go:build linux

package linux

import (
	"fmt"
	"syscall"
)

func uname() (release, machine string, err error) {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "", "", err
	}
	return cstr(u.Release[:]), cstr(u.Machine[:]), nil
}

// cstr converts a NUL-terminated utsname field (int8 or uint8 by
// architecture).
func cstr[T int8 | uint8](b []T) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

func stackLimit() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_STACK, &r); err != nil {
		return 0, err
	}
	if r.Cur == ^uint64(0) { // RLIM_INFINITY
		return Unlimited, nil
	}
	return r.Cur, nil
}

// File system magic numbers (statfs f_type; include/uapi/linux/magic.h).
var fsMagic = map[int64]string{
	0xEF53:     "ext4", // ext2, ext3 and ext4 share it
	0x58465342: "xfs",
	0x9123683E: "btrfs",
	0x01021994: "tmpfs",
	0x794c7630: "overlayfs",
	0x6969:     "nfs",
	0x65735546: "fuse",
	0x2fc12fc1: "zfs",
	0xF2F52010: "f2fs",
	0x858458f6: "ramfs",
	0x9fa0:     "proc",
}

// fileSystem names the file system holding path ("" if unknown).
func fileSystem(path string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return ""
	}
	if name, ok := fsMagic[int64(st.Type)]; ok {
		return name
	}
	return fmt.Sprintf("%#x", uint64(st.Type))
}

// fileID returns a file's device (as /proc/PID/maps prints it, major:minor
// in hex) and inode, or "" when it cannot be read.
func fileID(path string) (string, uint64) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return "", 0
	}
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	return fmt.Sprintf("%02x:%02x", major, minor), st.Ino
}

// changesCredentials reports whether executing path changes the
// process's effective user or group (a set-ID bit naming someone else).
func changesCredentials(path string) bool {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return false
	}
	return st.Mode&syscall.S_ISUID != 0 && int(st.Uid) != syscall.Geteuid() ||
		st.Mode&syscall.S_ISGID != 0 && int(st.Gid) != syscall.Getegid()
}
