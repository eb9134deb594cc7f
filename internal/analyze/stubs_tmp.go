package analyze

import "io"

func RunTUI(r *Result, in io.Reader, out io.Writer) error { return nil }
