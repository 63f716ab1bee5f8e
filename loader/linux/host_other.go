//go:build !linux

package linux

import "errors"

func uname() (release, machine string, err error) {
	return "", "", errors.New("not running on Linux: give the kernel profile (release and machine) explicitly")
}

func stackLimit() (uint64, error) { return 8 << 20, nil }

func fileSystem(string) string { return "" }

func fileID(string) (string, uint64) { return "", 0 }

func changesCredentials(string) bool { return false }
