package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// These run the command line up to where it would load the configuration:
// parsing and input checks need no stack.

func TestExitCodes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want []string // what stderr must name
	}{
		{"no command prints help", nil, 0, nil},
		{"group alone prints help", []string{"saga"}, 0, nil},
		{"help", []string{"--help"}, 0, nil},
		{"unknown command", []string{"frob"}, 2, []string{`unknown command "frob"`}},
		{"unknown command, suggestion", []string{"sgaa", "list"}, 2, []string{`"sgaa"`, "did you mean saga"}},
		{"unknown subcommand", []string{"saga", "stauts", "o-1"}, 2, []string{`"stauts"`, "did you mean status"}},
		{"unknown subcommand of order", []string{"order", "cancel"}, 2, []string{`"cancel"`}},
		{"unknown flag", []string{"--colour", "red"}, 2, []string{"--colour"}},
		{"unknown flag of a subcommand", []string{"saga", "list", "--colour", "red"}, 2, []string{"--colour"}},
		{"unknown flag of a group", []string{"events", "--colour"}, 2, []string{"--colour"}},
		{"bad flag value", []string{"saga", "list", "--limit", "many"}, 2, []string{"--limit"}},
		{"bad --output", []string{"health", "--output", "yaml"}, 2, []string{"--output", "text or json"}},
		{"bad --status", []string{"saga", "list", "--status", "lost"}, 2, []string{"--status", "running"}},
		{"positional argument", []string{"health", "extra"}, 2, []string{"extra"}},
		{"no order id", []string{"saga", "status"}, 2, []string{"order id"}},
		{"no reason", []string{"saga", "compensate", "o-1"}, 2, []string{"--reason"}},
		{"bad event type", []string{"events", "tail", "--type", "order.lost"}, 2, []string{"--type"}},
		{"--consumer with --durable", []string{"events", "tail", "--consumer", "a", "--durable", "b"}, 2, []string{"--consumer and --durable"}},
		{"--consumer with --type", []string{"events", "tail", "--consumer", "a", "--type", "order.confirmed"}, 2, []string{"--consumer and --type"}},
		{"--nats with --database", []string{"health", "--nats", "--database", "orders"}, 2, []string{"--nats and --database"}},
		{"no items", []string{"order", "place", "--customer", "alice"}, 2, []string{"--item"}},
		{"bad item", []string{"order", "place", "--customer", "alice", "--item", "W=0"}, 2, []string{`--item "W=0"`}},
		{"blank customer", []string{"order", "place", "--customer", " ", "--item", "W=1"}, 2, []string{"--customer: required"}},
		{"bad order id", []string{"order", "place", "--customer", "alice", "--item", "W=1", "--order-id", "a b"}, 2,
			[]string{`--order-id "a b": want`}},
		{"every problem", []string{"order", "place", "--item", "W", "--order-id", "a.b"}, 2,
			[]string{"--customer", "--order-id", `--item "W"`}},
		{"quantity beyond int32", []string{"order", "place", "--customer", "alice", "--item", "W=4294967297"}, 2,
			[]string{`--item "W=4294967297": quantity: want an integer from 1 to 1000000`}},
		{"one SKU adds up too much", []string{"order", "place", "--customer", "alice", "--item", "W=1000000", "--item", "W=1"}, 2,
			[]string{`--item SKU "W" adds up to 1000001: want an integer from 1 to 1000000`}},
		{"too many items", append([]string{"order", "place", "--customer", "alice"}, manyItems(101)...), 2,
			[]string{"--item 101: want 1 to 100 items"}},
		{"bad customer id", []string{"order", "place", "--customer", "alice smith", "--item", "W=1"}, 2,
			[]string{`--customer "alice smith": want 1 to 64 characters`}},
		{"bad SKU", []string{"order", "place", "--customer", "alice", "--item", "W/1=1"}, 2,
			[]string{`--item "W/1=1": SKU: want 1 to 64 characters`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("fedsaga %q: exit code %d, want %d; stderr: %s", tc.args, code, tc.code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q does not name %s", stderr.String(), w)
				}
			}
			if strings.Contains(stderr.String(), "_id") {
				t.Errorf("stderr %q names a field instead of its flag", stderr.String())
			}
			if tc.code != 0 && stdout.Len() > 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestOutputFlag(t *testing.T) {
	for _, tc := range []struct {
		path []string
		def  string
	}{
		{[]string{"saga", "status"}, "text"},
		{[]string{"saga", "list"}, "text"},
		{[]string{"health"}, "text"},
		{[]string{"seed"}, "text"},
		{[]string{"migrate"}, "text"},
		{[]string{"config", "print"}, "text"},
		{[]string{"events", "tail"}, "json"},
		{[]string{"events", "consumers"}, "text"},
		{[]string{"order", "place"}, ""}, // text, or json with --wait
	} {
		cmd, _, err := newRoot().Find(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		f := cmd.Flags().Lookup("output")
		if f == nil {
			t.Errorf("%s has no --output", cmd.CommandPath())
			continue
		}
		if f.Value.String() != tc.def {
			t.Errorf("%s --output defaults to %q, want %q", cmd.CommandPath(), f.Value, tc.def)
		}
	}

	// --json stays, as another way to say --output json.
	for _, path := range [][]string{{"saga", "status"}, {"saga", "list"}} {
		for args, want := range map[string]string{"--json": "json", "--json=false": "text", "--output=json": "json"} {
			cmd, _, _ := newRoot().Find(path)
			if err := cmd.ParseFlags([]string{args}); err != nil {
				t.Fatalf("%s %s: %v", cmd.CommandPath(), args, err)
			}
			if got := cmd.Flags().Lookup("output").Value.String(); got != want {
				t.Errorf("%s %s: output %q, want %q", cmd.CommandPath(), args, got, want)
			}
		}
	}
}

// manyItems is n --item flags with distinct SKUs.
func manyItems(n int) []string {
	var args []string
	for i := range n {
		args = append(args, "--item", fmt.Sprintf("SKU-%d=1", i))
	}
	return args
}
