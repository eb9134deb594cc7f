package executor

import "testing"

// A container with a network of its own cannot reach the host's loopback
// resolvers: docker drops them, and uses Google's when none is left.
func TestWithoutLocalResolvers(t *testing.T) {
	cases := []struct{ in, want string }{
		{"nameserver 10.255.255.53\n", "nameserver 10.255.255.53\n"},
		{"search lan\nnameserver 127.0.0.53\noptions edns0\n", "search lan\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"nameserver ::1\nnameserver 192.0.2.1\n", "nameserver 192.0.2.1\n"},
		{"", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
	}
	for _, c := range cases {
		if got := withoutLocalResolvers(c.in); got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}
