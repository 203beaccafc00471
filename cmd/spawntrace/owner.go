package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// invoker is the user who ran sudo, whose the output files should be:
// a file written by "sudo spawntrace -w run.json" that only root can then
// remove is a nuisance. ok is false when not under sudo.
func invoker() (uid, gid int, ok bool) {
	if os.Geteuid() != 0 {
		return 0, 0, false
	}
	u, err1 := strconv.Atoi(os.Getenv("SUDO_UID"))
	g, err2 := strconv.Atoi(os.Getenv("SUDO_GID"))
	if err1 != nil || err2 != nil || u == 0 {
		return 0, 0, false
	}
	return u, g, true
}

// giveToInvoker gives a file or directory spawntrace created to the sudo
// user, through its descriptor; a failure leaves it root's, which is no
// reason to fail the run.
func giveToInvoker(f *os.File) {
	if uid, gid, ok := invoker(); ok {
		f.Chown(uid, gid)
	}
}

// credentialFor resolves -u USER (a name or a numeric uid) to the
// credential the workload runs with, as strace -u does.
func credentialFor(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.Atoi(name); nerr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("-u %s: %w", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	return cred, nil
}
