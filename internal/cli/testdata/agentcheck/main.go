// agentcheck asks the ssh-agent at $SSH_AUTH_SOCK for its identities
// (SSH2_AGENTC_REQUEST_IDENTITIES) and prints how many it holds: a static
// program that the build tests copy into a busybox image, whose nc cannot
// open a unix socket.
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	c, err := net.Dial("unix", os.Getenv("SSH_AUTH_SOCK"))
	if err != nil {
		fmt.Println("agentcheck:", err)
		os.Exit(1)
	}
	if _, err := c.Write([]byte{0, 0, 0, 1, 11}); err != nil {
		fmt.Println("agentcheck:", err)
		os.Exit(1)
	}
	var head [9]byte // length, SSH2_AGENT_IDENTITIES_ANSWER (12), count
	if _, err := io.ReadFull(c, head[:]); err != nil || head[4] != 12 {
		fmt.Println("agentcheck: no identities answer", err)
		os.Exit(1)
	}
	fmt.Printf("agent at %s holds %d identities\n", os.Getenv("SSH_AUTH_SOCK"), binary.BigEndian.Uint32(head[5:]))
}
