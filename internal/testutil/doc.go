// Package testutil holds the primitives every package's tests share: layer
// tars written in memory (Tar), a busybox root filesystem from Debian's
// busybox-static (BusyboxRootfs) and golden files rewritten by -update
// (Golden). It is not a _test package so that any test can import it; it
// imports no strata package, so even the lowest package's tests can use it
// without an import cycle. Helpers that need a store (storetest,
// archivetest, containertest) are built on these.
package testutil
