package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportHTML: report --html writes the page (with -c too, whose table
// needs no summary), holds the recording's terminal escapes as no raw
// control bytes, and refuses to overwrite the recording it reads.
func TestReportHTML(t *testing.T) {
	dir := t.TempDir()
	path := saveRec(t, dir, "hostile.json.gz", hostileRecording())
	for _, args := range [][]string{{"report"}, {"report", "-c"}} {
		page := filepath.Join(dir, "page.html")
		var out, errb bytes.Buffer
		args = append(args, "--html", page, path)
		if code := run(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errb.String())
		}
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) || !bytes.Contains(b, []byte("Findings")) {
			t.Errorf("%v: not the page:\n%.300s", args, b)
		}
		for i, c := range b {
			if c < ' ' && c != '\n' {
				t.Errorf("%v: raw control byte %#x in the page: %q", args, c, b[max(0, i-40):min(len(b), i+40)])
				break
			}
		}
		if strings.Contains(string(b), "<script") {
			t.Errorf("%v: the page holds a <script>", args)
		}
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"report", "--html", path, path}, &out, &errb)
	if code != exitFailure || !strings.Contains(errb.String(), "are the same file") {
		t.Errorf("report --html REC REC: exit %d, %q; want a refusal", code, errb.String())
	}
}
