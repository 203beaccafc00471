package reports

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium finds Debian's chromium (make deps installs it); without it the
// test skips, but not under CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found: the HTML page's browser test needs it (make deps installs it)")
		}
		t.Skip("chromium not found (make deps installs it)")
	}
	return path
}

// runChromium runs headless chromium on a page with its own profile
// directory (as root it needs --no-sandbox), and returns its stdout.
func runChromium(t *testing.T, bin, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--user-data-dir=" + filepath.Join(dir, "profile")}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// TestHTMLInChromium renders the page in a real browser: the screenshot
// shows the charts (the fork bars' colour covers an area, the picture is
// not one flat colour) and the DOM chromium built holds the charts' titles
// and their SVG.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	forkPixels, dom := renderInChromium(t, bin, writtenHTML(t, anatomyRecording(), HTMLHeading{}), "860,1100")
	// Two fork classes' bars (p50) and the copy segments, each 22 units
	// high: thousands of pixels when the SVG was drawn.
	if forkPixels < 2000 {
		t.Errorf("screenshot shows %d pixels of the fork bars' colour #c2410c: the charts were not drawn", forkPixels)
	}
	for _, want := range []string{classesTitle, splitTitle, scatterTitle, "4 GiB parent: ~72 ms"} {
		if !strings.Contains(dom, want) {
			t.Errorf("chromium's DOM lacks %q", want)
		}
	}
	if n := strings.Count(dom, "<svg "); n != 3 {
		t.Errorf("chromium's DOM holds %d <svg> elements, want 3", n)
	}
}

// renderInChromium opens page in headless chromium with a window of that
// size, fails the test when the screenshot is blank (one flat colour) or
// the DOM chromium built is cut short, and returns the screenshot's pixels
// of the fork colour (pixelStats) and the DOM.
func renderInChromium(t *testing.T, bin string, page []byte, windowSize string) (forkPixels int, dom string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "page.html")
	if err := os.WriteFile(path, page, 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + path
	shot := filepath.Join(dir, "shot.png")
	runChromium(t, bin, dir, "--screenshot="+shot, "--window-size="+windowSize, url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	variance, forkPixels := pixelStats(img)
	t.Logf("screenshot %v: luminance variance %.0f, %d pixels of the fork colour", img.Bounds().Size(), variance, forkPixels)
	if variance < 100 {
		t.Errorf("screenshot is blank: luminance variance %.1f", variance)
	}
	dom = string(runChromium(t, bin, dir, "--dump-dom", url))
	if !strings.Contains(dom, "</html>") {
		t.Error("chromium's DOM is cut short")
	}
	return forkPixels, dom
}

// pixelStats is the variance of the picture's luminance and the number of
// pixels within a few levels of the fork colour, #c2410c.
func pixelStats(img image.Image) (variance float64, fork int) {
	b := img.Bounds()
	var sum, sumSq float64
	n := float64(b.Dx() * b.Dy())
	near := func(v uint32, want uint32) bool { v >>= 8; return v+6 >= want && v <= want+6 }
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			sum += l
			sumSq += l * l
			if near(r, 0xc2) && near(g, 0x41) && near(bl, 0x0c) {
				fork++
			}
		}
	}
	mean := sum / n
	return sumSq/n - mean*mean, fork
}

// TestCompareAndFleetHTMLInChromium renders compare's two pages in a real
// browser: each screenshot is not blank and shows its bars' colours, and
// the DOM chromium built holds every chart's title and SVG.
func TestCompareAndFleetHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	for _, c := range []struct {
		name   string
		page   func(t *testing.T) []byte
		titles []string
		// minPixels of the fork colour: the cluster's copy bars (compare),
		// the outliers' bars (fleet).
		minPixels int
	}{
		{"compare", figuresHTML, []string{costsTitle, diffTitle, bothScatterTitle}, 4000},
		{"fleet", func(t *testing.T) []byte { return fleetHTML(t, testFleet(t)) }, []string{fleetBarsTitle}, 2000},
	} {
		t.Run(c.name, func(t *testing.T) {
			forkPixels, dom := renderInChromium(t, bin, c.page(t), "860,1600")
			if forkPixels < c.minPixels {
				t.Errorf("screenshot shows %d pixels of #c2410c, want at least %d: the charts were not drawn", forkPixels, c.minPixels)
			}
			for _, want := range c.titles {
				if !strings.Contains(dom, want) {
					t.Errorf("chromium's DOM lacks %q", want)
				}
			}
			if n := strings.Count(dom, "<svg "); n != len(c.titles) {
				t.Errorf("chromium's DOM holds %d <svg> elements, want %d", n, len(c.titles))
			}
		})
	}
}
