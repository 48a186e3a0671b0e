package triaged

import (
	"bytes"
	"encoding/json"
	"testing"
)

// jsonLen counts what Encode writes, to the byte: the limits are what the stream stores.
func TestJSONLenIsTheEncodedLength(t *testing.T) {
	for _, s := range []string{"", "plain", `quo"te\`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f", "<a href='x'>&amp;</a>",
		"é中🙂", "\u2028\u2029", "bad \xff\xfe utf-8", "\xe2\x82", "\ufffd"} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got, want := jsonLen(s), b.Len()-1; got != want {
			t.Errorf("jsonLen(%q) = %d, encoding/json writes %d", s, got, want)
		}
	}
}
