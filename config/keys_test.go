package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedsaga/fedsaga/federation/relation"
)

// This file tests the keys added after config_test.go was written:
// [federation], [nats.auth], [nats.tls], nats.jetstream.manage_streams,
// stream retention, [events] and [[observers]].

// sameProblems reports whether got and want hold the same messages, in any
// order: Validate reports problems in a stable order within a section, but
// the tests below only care that each problem is reported, once.
func sameProblems(got, want []string) bool {
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}

// problemKeys returns the keys of the *Error values in the tree err.
func problemKeys(err error) []string {
	var keys []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ce *Error
		if errors.As(err, &ce) {
			keys = append(keys, ce.Key)
		} else {
			keys = append(keys, "<not a *config.Error: "+err.Error()+">")
		}
	}
	if err != nil {
		walk(err)
	}
	return keys
}

const entityList = "order, item, product, reservation, payment"

func TestValidateNewKeys(t *testing.T) {
	const configured = "(configured: inventory, orders, payments)"
	obs := func(channel, subject, database string) func(c *Config) {
		return func(c *Config) {
			c.Observers = []Observer{{Channel: channel, NATSSubject: subject, Database: database}}
		}
	}
	tests := []struct {
		name   string
		change func(c *Config)
		want   []string // none for valid
	}{
		// [nats.auth]
		{"auth none", func(c *Config) { c.NATS.Auth = NATSAuth{Type: AuthNone} }, nil},
		{"auth type unknown", func(c *Config) { c.NATS.Auth.Type = "tokn" },
			[]string{`config: nats.auth.type: "tokn" is not one of none, token, user_password, nkey, credentials`}},
		{"auth type empty", func(c *Config) { c.NATS.Auth.Type = "" },
			[]string{`config: nats.auth.type: "" is not one of none, token, user_password, nkey, credentials`}},
		{"auth type is case-sensitive", func(c *Config) { c.NATS.Auth = NATSAuth{Type: "Token", Token: "t0k"} },
			[]string{`config: nats.auth.type: "Token" is not one of none, token, user_password, nkey, credentials`}},
		{"auth token", func(c *Config) { c.NATS.Auth = NATSAuth{Type: AuthToken, Token: "t0k"} }, nil},
		{"auth token without token", func(c *Config) { c.NATS.Auth = NATSAuth{Type: AuthToken} },
			[]string{"config: nats.auth.token: required when nats.auth.type is token"}},
		{"auth token with only a password", func(c *Config) { c.NATS.Auth = NATSAuth{Type: AuthToken, User: "u", Password: "pw"} },
			[]string{"config: nats.auth.token: required when nats.auth.type is token"}},
		{"auth user_password", func(c *Config) { c.NATS.Auth = NATSAuth{Type: AuthUserPassword, User: "u", Password: "pw"} }, nil},
		{"auth user_password without either", func(c *Config) { c.NATS.Auth = NATSAuth{Type: AuthUserPassword} },
			[]string{
				"config: nats.auth.user: required when nats.auth.type is user_password",
				"config: nats.auth.password: required when nats.auth.type is user_password",
			}},
		{"auth user_password without user", func(c *Config) { c.NATS.Auth = NATSAuth{Type: AuthUserPassword, Password: "pw"} },
			[]string{"config: nats.auth.user: required when nats.auth.type is user_password"}},
		{"auth user_password without password", func(c *Config) { c.NATS.Auth = NATSAuth{Type: AuthUserPassword, User: "u"} },
			[]string{"config: nats.auth.password: required when nats.auth.type is user_password"}},
		{"auth nkey", func(c *Config) { c.NATS.Auth = NATSAuth{Type: AuthNKey, NKeySeedFile: "/etc/fedsaga/nkey.seed"} }, nil},
		{"auth nkey without seed file", func(c *Config) { c.NATS.Auth = NATSAuth{Type: AuthNKey} },
			[]string{"config: nats.auth.nkey_seed_file: required when nats.auth.type is nkey"}},
		{"auth credentials", func(c *Config) {
			c.NATS.Auth = NATSAuth{Type: AuthCredentials, CredentialsFile: "/etc/fedsaga/app.creds"}
		}, nil},
		{"auth credentials without file", func(c *Config) { c.NATS.Auth = NATSAuth{Type: AuthCredentials, NKeySeedFile: "x.seed"} },
			[]string{"config: nats.auth.credentials_file: required when nats.auth.type is credentials"}},
		{"auth unknown type checks no fields", func(c *Config) { c.NATS.Auth = NATSAuth{Type: "jwt"} },
			[]string{`config: nats.auth.type: "jwt" is not one of none, token, user_password, nkey, credentials`}},

		// [nats.tls]
		{"tls ca only", func(c *Config) { c.NATS.TLS = NATSTLS{CAFile: "ca.pem"} }, nil},
		{"tls cert and key", func(c *Config) { c.NATS.TLS = NATSTLS{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"} }, nil},
		{"tls cert without key", func(c *Config) { c.NATS.TLS = NATSTLS{CertFile: "c.pem"} },
			[]string{"config: nats.tls.cert_file: set nats.tls.cert_file and nats.tls.key_file together (both or neither)"}},
		{"tls key without cert", func(c *Config) { c.NATS.TLS = NATSTLS{CAFile: "ca.pem", KeyFile: "k.pem"} },
			[]string{"config: nats.tls.cert_file: set nats.tls.cert_file and nats.tls.key_file together (both or neither)"}},

		// [nats.jetstream]
		{"manage streams off", func(c *Config) { c.NATS.JetStream.ManageStreams = false }, nil},
		{"retention interest", func(c *Config) { setStream(c, func(s *Stream) { s.Retention = "interest" }) }, nil},
		{"retention workqueue", func(c *Config) { setStream(c, func(s *Stream) { s.Retention = "workqueue" }) }, nil},
		{"retention bad", func(c *Config) { setStream(c, func(s *Stream) { s.Retention = "forever" }) },
			[]string{`config: nats.jetstream.streams.ORDERS.retention: "forever" is not one of limits, interest, workqueue`}},
		{"retention empty", func(c *Config) { setStream(c, func(s *Stream) { s.Retention = "" }) },
			[]string{`config: nats.jetstream.streams.ORDERS.retention: "" is not one of limits, interest, workqueue`}},
		{"retention of another stream", func(c *Config) {
			s := DefaultStream()
			s.Subjects, s.Retention = []string{"audit.>"}, "Limits"
			c.NATS.JetStream.Streams["AUDIT"] = s
		}, []string{`config: nats.jetstream.streams.AUDIT.retention: "Limits" is not one of limits, interest, workqueue`}},

		// [events]
		{"relay batch 0", func(c *Config) { c.Events.RelayBatch = 0 }, []string{"config: events.relay_batch: must be from 1 to 10000, got 0"}},
		{"relay batch negative", func(c *Config) { c.Events.RelayBatch = -5 }, []string{"config: events.relay_batch: must be from 1 to 10000, got -5"}},
		{"relay batch 1", func(c *Config) { c.Events.RelayBatch = 1 }, nil},
		{"relay batch 10000", func(c *Config) { c.Events.RelayBatch = 10000 }, nil},
		{"relay batch 10001", func(c *Config) { c.Events.RelayBatch = 10001 }, []string{"config: events.relay_batch: must be from 1 to 10000, got 10001"}},
		{"relay delay 0", func(c *Config) { c.Events.RelayDelay = 0 }, nil},
		{"relay delay negative", func(c *Config) { c.Events.RelayDelay = -time.Second }, []string{"config: events.relay_delay: must not be negative, got -1s"}},
		{"relay poll 0", func(c *Config) { c.Events.RelayPoll = 0 }, []string{"config: events.relay_poll: must be more than 0s, got 0s"}},
		{"publish timeout 0", func(c *Config) { c.Events.PublishTimeout = 0 }, []string{"config: events.publish_timeout: must be more than 0s, got 0s"}},
		{"publish timeout negative", func(c *Config) { c.Events.PublishTimeout = -time.Minute }, []string{"config: events.publish_timeout: must be more than 0s, got -1m0s"}},

		// [[observers]]
		{"observer", obs("order_events", "fedsaga.pg.order", "orders"), nil},
		{"observer on another database", obs("stock", "fedsaga.pg.stock", "inventory"), nil},
		{"observers empty", func(c *Config) { c.Observers = []Observer{} }, nil},
		{"observer without channel", obs("", "fedsaga.pg.order", "orders"), []string{"config: observers[0].channel: must not be empty"}},
		{"observer with a blank channel", obs("  ", "fedsaga.pg.order", "orders"), []string{"config: observers[0].channel: must not be empty"}},
		{"observer subject with *", obs("ch", "fedsaga.*.order", "orders"),
			[]string{`config: observers[0].nats_subject: want a NATS subject without spaces or wildcards, got "fedsaga.*.order"`}},
		{"observer subject with >", obs("ch", "fedsaga.>", "orders"),
			[]string{`config: observers[0].nats_subject: want a NATS subject without spaces or wildcards, got "fedsaga.>"`}},
		{"observer subject with a space", obs("ch", "fedsaga order", "orders"),
			[]string{`config: observers[0].nats_subject: want a NATS subject without spaces or wildcards, got "fedsaga order"`}},
		{"observer without subject", obs("ch", "", "orders"),
			[]string{`config: observers[0].nats_subject: want a NATS subject without spaces or wildcards, got ""`}},
		{"observer on an unknown database", obs("ch", "a.b", "reports"),
			[]string{`config: observers[0].database: "reports" is not a configured database ` + configured}},
		{"observer without database", obs("ch", "a.b", ""),
			[]string{`config: observers[0].database: "" is not a configured database ` + configured}},
		{"observer with everything wrong", obs("", "a.*", "reports"), []string{
			"config: observers[0].channel: must not be empty",
			`config: observers[0].nats_subject: want a NATS subject without spaces or wildcards, got "a.*"`,
			`config: observers[0].database: "reports" is not a configured database ` + configured,
		}},
		{"second observer named by its index", func(c *Config) {
			c.Observers = []Observer{
				{Channel: "a", NATSSubject: "a.b", Database: "orders"},
				{Channel: "b", NATSSubject: "b.*", Database: "payments"},
				{Channel: "", NATSSubject: "c.d", Database: "orders"},
			}
		}, []string{
			`config: observers[1].nats_subject: want a NATS subject without spaces or wildcards, got "b.*"`,
			"config: observers[2].channel: must not be empty",
		}},

		// [federation]
		{"batch size 0", func(c *Config) { c.Federation.BatchSize = 0 }, []string{"config: federation.batch_size: must be from 1 to 100000, got 0"}},
		{"batch size 1", func(c *Config) { c.Federation.BatchSize = 1 }, nil},
		{"batch size 100000", func(c *Config) { c.Federation.BatchSize = 100000 }, nil},
		{"batch size 100001", func(c *Config) { c.Federation.BatchSize = 100001 }, []string{"config: federation.batch_size: must be from 1 to 100000, got 100001"}},
		{"default timeout 0", func(c *Config) { c.Federation.DefaultTimeout = 0 }, []string{"config: federation.default_timeout: must be more than 0s, got 0s"}},
		{"database timeout", func(c *Config) {
			c.Federation.DatabaseTimeouts = map[string]time.Duration{"orders": time.Second, "payments": time.Minute}
		}, nil},
		{"database timeouts nil", func(c *Config) { c.Federation.DatabaseTimeouts = nil }, nil},
		{"database timeout for an unknown database", func(c *Config) {
			c.Federation.DatabaseTimeouts = map[string]time.Duration{"orders": time.Second, "reports": time.Second}
		}, []string{`config: federation.database_timeouts.reports: "reports" is not a configured database ` + configured}},
		{"database timeout 0", func(c *Config) { c.Federation.DatabaseTimeouts = map[string]time.Duration{"inventory": 0} },
			[]string{"config: federation.database_timeouts.inventory: must be more than 0s, got 0s"}},
		{"database timeout unknown and negative", func(c *Config) { c.Federation.DatabaseTimeouts = map[string]time.Duration{"Orders": -time.Second} },
			[]string{
				`config: federation.database_timeouts.Orders: "Orders" is not a configured database ` + configured,
				"config: federation.database_timeouts.Orders: must be more than 0s, got -1s",
			}},
		{"http address host and port", func(c *Config) { c.Federation.HTTPAddress = "127.0.0.1:8081" }, nil},
		{"http address bad", func(c *Config) { c.Federation.HTTPAddress = "8080" },
			[]string{`config: federation.http_address: want host:port (e.g. ":8080"), got "8080"`}},
		{"page sizes equal", func(c *Config) { c.Federation.DefaultPageSize, c.Federation.MaxPageSize = 10, 10 }, nil},
		{"default page size above max", func(c *Config) { c.Federation.MaxPageSize = 10 },
			[]string{"config: federation.default_page_size: must be from 1 to federation.max_page_size (10), got 50"}},
		{"default page size 0", func(c *Config) { c.Federation.DefaultPageSize = 0 },
			[]string{"config: federation.default_page_size: must be from 1 to federation.max_page_size (1000), got 0"}},
		{"max page size 0", func(c *Config) { c.Federation.MaxPageSize = 0 }, []string{
			"config: federation.max_page_size: must be at least 1, got 0",
			"config: federation.default_page_size: must be from 1 to federation.max_page_size (0), got 50",
		}},
		{"no relations", func(c *Config) { c.Federation.Relations = nil }, nil},
		{"a second name for a supported relation", func(c *Config) {
			c.Federation.Relations["lines"] = Relation{From: "order", To: "item"}
		}, nil},
		// The reader cannot load it: refused when the configuration loads,
		// not when the worker starts.
		{"relation the reader cannot load", func(c *Config) {
			c.Federation.Relations["reserved_product"] = Relation{From: "reservation", To: "product"}
		}, []string{"config: federation.relations.reserved_product: fedsaga cannot load reservation → product; supported relations: order → item, item → product, order → reservation, order → payment"}},
		{"relation to an unknown entity", func(c *Config) { c.Federation.Relations["customer"] = Relation{From: "order", To: "customer"} },
			[]string{`config: federation.relations.customer.to: "customer" is not an entity; want one of ` + entityList}},
		{"relation from an unknown entity", func(c *Config) { c.Federation.Relations["items"] = Relation{From: "orders", To: "item"} },
			[]string{`config: federation.relations.items.from: "orders" is not an entity; want one of ` + entityList}},
		{"relation with both entities unknown", func(c *Config) { c.Federation.Relations["bad"] = Relation{From: "", To: "Item"} }, []string{
			`config: federation.relations.bad.from: "" is not an entity; want one of ` + entityList,
			`config: federation.relations.bad.to: "Item" is not an entity; want one of ` + entityList,
		}},
		{"cycle", func(c *Config) { c.Federation.Relations["order"] = Relation{From: "product", To: "order"} },
			[]string{"config: federation.relations: CircularReferenceError: federation.relations form a cycle: item → product → order → item (relations product, order, items); remove one of them"}},
		{"self-loop", func(c *Config) { c.Federation.Relations["parent"] = Relation{From: "order", To: "order"} },
			[]string{"config: federation.relations: CircularReferenceError: federation.relations form a cycle: order → order (relations parent); remove one of them"}},
		// An unknown entity stops the cycle check: the entity is the
		// problem to fix first.
		{"cycle and an unknown entity", func(c *Config) {
			c.Federation.Relations["parent"] = Relation{From: "order", To: "order"}
			c.Federation.Relations["customer"] = Relation{From: "order", To: "customer"}
		}, []string{`config: federation.relations.customer.to: "customer" is not an entity; want one of ` + entityList}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(c)
			err := c.Validate()
			got := errorList(err)
			if !sameProblems(got, tt.want) {
				t.Errorf("Validate() =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			// Every problem is an *Error naming its key.
			for i, key := range problemKeys(err) {
				if key == "" || !strings.HasPrefix(got[i], "config: "+key+": ") {
					t.Errorf("problem %q has key %q", got[i], key)
				}
			}
		})
	}
}

// TestValidateNewKeysReportsAll breaks every new section at once: each
// problem is reported, each under its own key.
func TestValidateNewKeysReportsAll(t *testing.T) {
	c := validConfig()
	c.NATS.Auth = NATSAuth{Type: AuthUserPassword}
	c.NATS.TLS.KeyFile = "k.pem"
	setStream(c, func(s *Stream) { s.Retention = "forever" })
	c.Events.RelayBatch = 0
	c.Events.RelayPoll = 0
	c.Observers = []Observer{{Channel: "", NATSSubject: "a.*", Database: "reports"}}
	c.Federation.BatchSize = 0
	c.Federation.DefaultPageSize = 2000
	c.Federation.DatabaseTimeouts = map[string]time.Duration{"reports": time.Second}
	c.Federation.Relations["parent"] = Relation{From: "order", To: "order"}
	c.Federation.HTTPAddress = "localhost"
	err := c.Validate()
	got := problemKeys(err)
	want := []string{
		"federation.batch_size",
		"federation.database_timeouts.reports",
		"federation.http_address",
		"federation.default_page_size",
		"federation.relations",
		"nats.jetstream.streams.ORDERS.retention",
		"nats.auth.user",
		"nats.auth.password",
		"nats.tls.cert_file",
		"events.relay_poll",
		"events.relay_batch",
		"observers[0].channel",
		"observers[0].nats_subject",
		"observers[0].database",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Validate() reported keys\n  %s\nwant\n  %s\nmessages:\n  %s",
			strings.Join(got, "\n  "), strings.Join(want, "\n  "), strings.Join(errorList(err), "\n  "))
	}
	var ce *CircularReferenceError
	if !errors.As(err, &ce) || !slices.Equal(ce.Path, []string{"order", "order"}) {
		t.Errorf("errors.As(err, *CircularReferenceError) = %+v", ce)
	}
}

func TestCircularReference(t *testing.T) {
	tests := []struct {
		name      string
		add       map[string]Relation
		path      []string
		relations []string
	}{
		{"defaults", nil, nil, nil},
		{
			name:      "product to order",
			add:       map[string]Relation{"order": {From: "product", To: "order"}},
			path:      []string{"item", "product", "order", "item"},
			relations: []string{"product", "order", "items"},
		},
		{
			name:      "self-loop",
			add:       map[string]Relation{"parent": {From: "order", To: "order"}},
			path:      []string{"order", "order"},
			relations: []string{"parent"},
		},
		{
			name:      "two-way",
			add:       map[string]Relation{"owner": {From: "payment", To: "order"}},
			path:      []string{"order", "payment", "order"},
			relations: []string{"payment", "owner"},
		},
		{
			// Of several cycles, the first met walking the entities and
			// the relation names in order.
			name: "several cycles",
			add: map[string]Relation{
				"z_back":   {From: "reservation", To: "order"},
				"a_back":   {From: "payment", To: "order"},
				"p_parent": {From: "product", To: "product"},
			},
			// item sorts first; item → product → product is met first.
			path:      []string{"product", "product"},
			relations: []string{"p_parent"},
		},
		{
			name: "several cycles through order",
			add: map[string]Relation{
				"z_back": {From: "reservation", To: "order"},
				"a_back": {From: "payment", To: "order"},
			},
			path:      []string{"order", "payment", "order"},
			relations: []string{"payment", "a_back"},
		},
		{
			name:      "cycle away from order",
			add:       map[string]Relation{"held": {From: "product", To: "reservation"}, "of": {From: "reservation", To: "product"}},
			path:      []string{"product", "reservation", "product"},
			relations: []string{"held", "of"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rels := Default().Federation.Relations
			for name, r := range tt.add {
				rels[name] = r
			}
			// The answer does not depend on map order.
			for range 20 {
				got := relation.FindCycle(rels)
				if tt.path == nil {
					if got != nil {
						t.Fatalf("findCycle() = %+v, want none", got)
					}
					continue
				}
				if got == nil || !slices.Equal(got.Path, tt.path) || !slices.Equal(got.Relations, tt.relations) {
					t.Fatalf("findCycle() = %+v, want path %q relations %q", got, tt.path, tt.relations)
				}
			}
			if tt.path == nil {
				return
			}

			c := validConfig()
			c.Federation.Relations = rels
			err := c.Validate()
			var ce *CircularReferenceError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate() = %v, want a *CircularReferenceError", err)
			}
			if !slices.Equal(ce.Path, tt.path) || !slices.Equal(ce.Relations, tt.relations) {
				t.Errorf("CircularReferenceError = %+v, want path %q relations %q", ce, tt.path, tt.relations)
			}
			var e *Error
			if !errors.As(err, &e) || e.Key != "federation.relations" {
				t.Errorf("errors.As(*Error) = %+v, want key federation.relations", e)
			}
			want := fmt.Sprintf("config: federation.relations: CircularReferenceError: federation.relations form a cycle: %s (relations %s); remove one of them",
				strings.Join(tt.path, " → "), strings.Join(tt.relations, ", "))
			if got := errorList(err); len(got) != 1 || got[0] != want {
				t.Errorf("Validate() = %q, want %q", got, want)
			}
		})
	}
}

func TestLoadCircularReference(t *testing.T) {
	isolate(t)
	_, err := Load(writeConfig(t, minimal+`
[federation.relations.order]
from = "product"
to = "order"
`))
	var ce *CircularReferenceError
	if !errors.As(err, &ce) {
		t.Fatalf("Load() = %v, want a *CircularReferenceError", err)
	}
	if want := []string{"item", "product", "order", "item"}; !slices.Equal(ce.Path, want) {
		t.Errorf("Path = %q, want %q", ce.Path, want)
	}
	if want := []string{"product", "order", "items"}; !slices.Equal(ce.Relations, want) {
		t.Errorf("Relations = %q, want %q", ce.Relations, want)
	}
	if got := problemKeys(err); !slices.Equal(got, []string{"federation.relations"}) {
		t.Errorf("problems %q, want federation.relations only: %v", got, err)
	}

	// Overriding a default relation by its name breaks the cycle.
	isolate(t)
	if _, err := Load(writeConfig(t, minimal+`
[federation.relations.order]
from = "product"
to = "order"
[federation.relations.product]
from = "item"
to = "payment"
`)); err == nil || errors.As(err, new(*CircularReferenceError)) || !strings.Contains(err.Error(), "cannot load item → payment") {
		t.Errorf("Load() = %v, want no cycle once relation product is redefined, only relations the reader cannot load", err)
	}
}

func TestLoadFederation(t *testing.T) {
	isolate(t)
	t.Setenv("FEDSAGA_FEDERATION__BATCH_SIZE", "250")
	t.Setenv("FEDSAGA_FEDERATION__DATABASE_TIMEOUTS__INVENTORY", "750ms")
	t.Setenv("FS_TEST_PORT", "9090")
	c, err := Load(writeConfig(t, minimal+`
[federation]
default_timeout = "3s"
http_address = "127.0.0.1:${FS_TEST_PORT}"
default_page_size = 20
max_page_size = 200
[federation.database_timeouts]
orders = "1s"
[federation.relations.lines]
from = "order"
to = "item"
[federation.relations.payment]
from = "order"
to = "payment"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Federation{
		BatchSize:        250,
		DefaultTimeout:   3 * time.Second,
		DatabaseTimeouts: map[string]time.Duration{"orders": time.Second, "inventory": 750 * time.Millisecond},
		HTTPAddress:      "127.0.0.1:9090",
		DefaultPageSize:  20,
		MaxPageSize:      200,
		Relations: map[string]Relation{
			"items":        {From: "order", To: "item"},
			"product":      {From: "item", To: "product"},
			"reservations": {From: "order", To: "reservation"},
			"payment":      {From: "order", To: "payment"},
			"lines":        {From: "order", To: "item"},
		},
		API: Default().Federation.API,
	}
	if !reflect.DeepEqual(c.Federation, want) {
		t.Errorf("federation =\n%+v\nwant\n%+v", c.Federation, want)
	}
}

func TestLoadNewKeyErrors(t *testing.T) {
	const configured = "(configured: inventory, orders, payments)"
	tests := []struct {
		name string
		file string
		env  map[string]string
		want []string
	}{
		{
			name: "federation",
			file: minimal + `
[federation]
batch_size = 0
default_page_size = 500
max_page_size = 100
[federation.database_timeouts]
reports = "1s"
[federation.relations.customer]
from = "order"
to = "customer"
`,
			want: []string{
				"config: federation.batch_size: must be from 1 to 100000, got 0",
				"config: federation.default_page_size: must be from 1 to federation.max_page_size (100), got 500",
				`config: federation.database_timeouts.reports: "reports" is not a configured database ` + configured,
				`config: federation.relations.customer.to: "customer" is not an entity; want one of ` + entityList,
			},
		},
		{
			name: "federation types",
			file: minimal + `
[federation]
batch_size = "lots"
default_timeout = 5
[federation.database_timeouts]
orders = "5x"
[federation.relations]
items = "order"
`,
			want: []string{
				`config: federation.batch_size: invalid integer "lots"`,
				`config: federation.default_timeout: expected a duration string such as "5s", got integer 5; durations are strings such as "5ms" (if 5 meant milliseconds)`,
				`config: federation.database_timeouts.orders: invalid duration "5x"; use a Go duration such as "5s", "1m30s" or "200ms"`,
				"config: federation.relations.items: expected a table, got a string",
			},
		},
		{
			name: "federation from the environment",
			file: minimal,
			env: map[string]string{
				"FEDSAGA_FEDERATION__MAX_PAGE_SIZE":                 "0",
				"FEDSAGA_FEDERATION__RELATIONS__PARENT__FROM":       "order",
				"FEDSAGA_FEDERATION__RELATIONS__PARENT__TO":         "order",
				"FEDSAGA_FEDERATION__DATABASE_TIMEOUTS__REPORTS":    "2s",
				"FEDSAGA_FEDERATION__RELATIONS__ITEMS__TO":          "items",
				"FEDSAGA_FEDERATION__DEFAULT_PAGE_SIZE":             "10",
				"FEDSAGA_FEDERATION__DATABASE_TIMEOUTS__PAYMENTS":   "soon",
				"FEDSAGA_FEDERATION__RELATIONS__RESERVATIONS__FROM": "order",
			},
			want: []string{
				"config: federation.max_page_size: must be at least 1, got 0 (from FEDSAGA_FEDERATION__MAX_PAGE_SIZE)",
				"config: federation.default_page_size: must be from 1 to federation.max_page_size (0), got 10 (from FEDSAGA_FEDERATION__DEFAULT_PAGE_SIZE)",
				`config: federation.database_timeouts.reports: "reports" is not a configured database ` + configured + " (from FEDSAGA_FEDERATION__DATABASE_TIMEOUTS__REPORTS)",
				`config: federation.database_timeouts.payments: invalid duration "soon"; use a Go duration such as "5s", "1m30s" or "200ms" (from FEDSAGA_FEDERATION__DATABASE_TIMEOUTS__PAYMENTS)`,
				`config: federation.relations.items.to: "items" is not an entity; want one of ` + entityList + " (from FEDSAGA_FEDERATION__RELATIONS__ITEMS__TO)",
			},
		},
		{
			name: "nats auth, tls, retention and events",
			file: minimal + `
[nats.auth]
type = "user_password"
[nats.tls]
cert_file = "client.pem"
[nats.jetstream]
manage_streams = "yes"
[nats.jetstream.streams.ORDERS]
retention = "forever"
[events]
relay_batch = 0
relay_delay = "-1s"
`,
			want: []string{
				"config: nats.auth.user: required when nats.auth.type is user_password",
				"config: nats.auth.password: required when nats.auth.type is user_password",
				"config: nats.tls.cert_file: set nats.tls.cert_file and nats.tls.key_file together (both or neither)",
				`config: nats.jetstream.manage_streams: invalid boolean "yes"; use true or false`,
				`config: nats.jetstream.streams.ORDERS.retention: "forever" is not one of limits, interest, workqueue`,
				"config: events.relay_batch: must be from 1 to 10000, got 0",
				"config: events.relay_delay: must not be negative, got -1s",
			},
		},
		{
			name: "auth types",
			file: minimal + "[nats.auth]\ntype = \"kerberos\"\n",
			want: []string{`config: nats.auth.type: "kerberos" is not one of none, token, user_password, nkey, credentials`},
		},
		{
			name: "token type without token",
			file: minimal + "[nats.auth]\ntype = \"token\"\n",
			env:  map[string]string{"FEDSAGA_EVENTS__RELAY_BATCH": "0"},
			want: []string{
				"config: nats.auth.token: required when nats.auth.type is token",
				"config: events.relay_batch: must be from 1 to 10000, got 0 (from FEDSAGA_EVENTS__RELAY_BATCH)",
			},
		},
		{
			name: "nkey and credentials files",
			file: minimal + "[nats.auth]\ntype = \"nkey\"\ncredentials_file = \"app.creds\"\n",
			want: []string{"config: nats.auth.nkey_seed_file: required when nats.auth.type is nkey"},
		},
		{
			name: "credentials without file",
			file: minimal,
			env:  map[string]string{"FEDSAGA_NATS__AUTH__TYPE": "credentials"},
			want: []string{"config: nats.auth.credentials_file: required when nats.auth.type is credentials"},
		},
		{
			name: "unknown keys in the new sections",
			file: minimal + `
[nats.auth]
tokn = "x"
[nats.tls]
ca = "ca.pem"
[federation]
batchsize = 10
[events]
relay_batches = 10
`,
			want: []string{
				`config: unknown key "nats.auth.tokn"; did you mean "nats.auth.token"?`,
				`config: unknown key "nats.tls.ca"`,
				`config: unknown key "federation.batchsize"; did you mean "federation.batch_size"?`,
				`config: unknown key "events.relay_batches"; did you mean "events.relay_batch"?`,
			},
		},
		{
			name: "observers",
			file: minimal + `
[[observers]]
nats_subject = "fedsaga.pg.*"
[[observers]]
channel = "stock"
nats_subject = "fedsaga.pg.stock"
database = "reports"
[[observers]]
chanel = "x"
nats_subject = "${FS_TEST_UNSET}"
[[observers]]
channel = "ok"
nats_subject = "fedsaga.pg.ok"
`,
			want: []string{
				"config: observers[0].channel: must not be empty",
				`config: observers[0].nats_subject: want a NATS subject without spaces or wildcards, got "fedsaga.pg.*"`,
				`config: observers[1].database: "reports" is not a configured database ` + configured,
				`config: unknown key "observers[2].chanel"; did you mean "observers[2].channel"?`,
				"config: observers[2].nats_subject: environment variable FS_TEST_UNSET is not set",
				"config: observers[2].channel: must not be empty",
			},
		},
		{
			name: "observers not an array of tables",
			file: "observers = [\"a\", \"b\"]\n" + minimal,
			want: []string{
				"config: observers[0]: expected a table, got a string",
				"config: observers[1]: expected a table, got a string",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("FS_TEST_UNSET", "")
			if err := os.Unsetenv("FS_TEST_UNSET"); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := Load(writeConfig(t, tt.file))
			if c != nil || err == nil {
				t.Fatalf("Load() = %+v, %v; want an error and no Config", c, err)
			}
			if got := errorList(err); !sameProblems(got, tt.want) {
				t.Errorf("Load() =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			for _, key := range problemKeys(err) {
				if key == "" {
					t.Errorf("a problem names no key: %v", err)
				}
			}
		})
	}
}

func TestLoadObserversNotAList(t *testing.T) {
	isolate(t)
	_, err := Load(writeConfig(t, minimal+"[observers]\nchannel = \"a\"\n"))
	if got := problemKeys(err); !slices.Equal(got, []string{"observers"}) {
		t.Errorf("Load() = %v, want one problem with key observers", err)
	}
	if err != nil && !strings.Contains(err.Error(), "got a table") {
		t.Errorf("Load() = %v, want it to say a table was found", err)
	}
}

func TestLoadObservers(t *testing.T) {
	isolate(t)
	t.Setenv("FS_TEST_ENV", "prod")
	t.Setenv("FS_TEST_DB", "payments")
	c, err := Load(writeConfig(t, minimal+`
[[observers]]
channel = "order_events_${FS_TEST_ENV}"
nats_subject = "fedsaga.${FS_TEST_ENV}.pg.order"

[[observers]]
channel = "payment_events"
nats_subject = "fedsaga.pg.payment"
database = "${FS_TEST_DB}"

[[observers]]
channel = "literal_$${x}"
nats_subject = "fedsaga.pg.literal"
database = "inventory"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Observer{
		{Channel: "order_events_prod", NATSSubject: "fedsaga.prod.pg.order", Database: "orders"},
		{Channel: "payment_events", NATSSubject: "fedsaga.pg.payment", Database: "payments"},
		{Channel: "literal_${x}", NATSSubject: "fedsaga.pg.literal", Database: "inventory"},
	}
	if !reflect.DeepEqual(c.Observers, want) {
		t.Errorf("observers =\n%+v\nwant\n%+v", c.Observers, want)
	}

	// Without [[observers]] there are none.
	isolate(t)
	c, err = Load(writeConfig(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Observers) != 0 {
		t.Errorf("observers = %+v, want none", c.Observers)
	}
}

func TestLoadNATSAuthAndTLS(t *testing.T) {
	isolate(t)
	t.Setenv("FEDSAGA_NATS__TLS__KEY_FILE", "/etc/fedsaga/client-key.pem")
	c, err := Load(writeConfig(t, minimal+`
[nats.auth]
type = "nkey"
nkey_seed_file = "/etc/fedsaga/nkey.seed"
[nats.tls]
ca_file = "/etc/fedsaga/ca.pem"
cert_file = "/etc/fedsaga/client.pem"
[nats.jetstream]
manage_streams = false
[nats.jetstream.streams.ORDERS]
retention = "interest"
[nats.jetstream.streams.WORK]
subjects = ["fedsaga.work.>"]
retention = "workqueue"
[events]
publish_timeout = "30s"
relay_delay = "0s"
relay_poll = "1s"
relay_batch = 100
`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (NATSAuth{Type: AuthNKey, NKeySeedFile: "/etc/fedsaga/nkey.seed"}); c.NATS.Auth != want {
		t.Errorf("nats.auth = %+v, want %+v", c.NATS.Auth, want)
	}
	if want := (NATSTLS{CAFile: "/etc/fedsaga/ca.pem", CertFile: "/etc/fedsaga/client.pem", KeyFile: "/etc/fedsaga/client-key.pem"}); c.NATS.TLS != want {
		t.Errorf("nats.tls = %+v, want %+v", c.NATS.TLS, want)
	}
	if c.NATS.JetStream.ManageStreams {
		t.Error("nats.jetstream.manage_streams = true, want false")
	}
	if got := c.NATS.JetStream.Streams["ORDERS"]; got.Retention != "interest" || !slices.Equal(got.Subjects, []string{"fedsaga.order.>"}) {
		t.Errorf("ORDERS = %+v", got)
	}
	work := DefaultStream()
	work.Subjects, work.Retention = []string{"fedsaga.work.>"}, "workqueue"
	if got := c.NATS.JetStream.Streams["WORK"]; !reflect.DeepEqual(got, work) {
		t.Errorf("WORK = %+v, want %+v", got, work)
	}
	if want := (Events{PublishTimeout: 30 * time.Second, RelayPoll: time.Second, RelayBatch: 100}); c.Events != want {
		t.Errorf("events = %+v, want %+v", c.Events, want)
	}
}

// TestSecretsNotShown sets the NATS token and password through ${NAME}
// expansion and through FEDSAGA_NATS__AUTH__PASSWORD, then checks that
// neither appears in error text, in Print's output or in fmt's.
func TestSecretsNotShown(t *testing.T) {
	const (
		token    = "tok-9f8e7d6c5b"
		password = "pw-1a2b3c4d5e"
	)
	secrets := []string{token, password}
	check := func(t *testing.T, what, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s shows the secret %q:\n%s", what, s, text)
			}
		}
	}
	printed := func(t *testing.T, c *Config) string {
		t.Helper()
		var b bytes.Buffer
		if err := c.Print(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}

	t.Run("token from ${NAME}", func(t *testing.T) {
		isolate(t)
		t.Setenv("FS_TEST_TOKEN", token)
		path := writeConfig(t, minimal+"[nats.auth]\ntype = \"token\"\ntoken = \"${FS_TEST_TOKEN}\"\n")
		c, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if c.NATS.Auth.Token.Value() != token {
			t.Errorf("token = %q, want the expanded variable", c.NATS.Auth.Token.Value())
		}
		out := printed(t, c)
		check(t, "Print", out)
		if !strings.Contains(out, "token = '[REDACTED]'") || !strings.Contains(out, "type = 'token'") {
			t.Errorf("Print lacks the redacted token:\n%s", out)
		}
		check(t, "fmt", fmt.Sprintf("%v %+v %#v", c, c, c.NATS.Auth))
		check(t, "Redacted", fmt.Sprint(c.Redacted()))

		// Broken elsewhere: the errors do not quote the token.
		t.Setenv("FEDSAGA_NATS__AUTH__TYPE", "tokn")
		t.Setenv("FEDSAGA_EVENTS__RELAY_BATCH", "0")
		_, err = Load(path)
		if err == nil {
			t.Fatal("Load succeeded")
		}
		check(t, "the error", err.Error())
		if got := problemKeys(err); !slices.Equal(got, []string{"nats.auth.type", "events.relay_batch"}) {
			t.Errorf("problems %q: %v", got, err)
		}
	})

	t.Run("password from the environment", func(t *testing.T) {
		isolate(t)
		t.Setenv("FEDSAGA_NATS__AUTH__PASSWORD", password)
		t.Setenv("FEDSAGA_NATS__AUTH__TYPE", "user_password")
		c, err := Load(writeConfig(t, minimal+"[nats.auth]\nuser = \"fedsaga\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if c.NATS.Auth.Password.Value() != password || c.NATS.Auth.User != "fedsaga" {
			t.Errorf("nats.auth = user %q, password %q", c.NATS.Auth.User, c.NATS.Auth.Password.Value())
		}
		out := printed(t, c)
		check(t, "Print", out)
		if !strings.Contains(out, "password = '[REDACTED]'") || !strings.Contains(out, "user = 'fedsaga'") {
			t.Errorf("Print lacks the redacted password:\n%s", out)
		}
		check(t, "fmt", fmt.Sprintf("%v %+v %#v", c, c, c.NATS.Auth))

		// Without the user: the problem names the user, not the password.
		isolate(t)
		t.Setenv("FEDSAGA_NATS__AUTH__PASSWORD", password)
		t.Setenv("FEDSAGA_NATS__AUTH__TYPE", "user_password")
		t.Setenv("FEDSAGA_NATS__TLS__CERT_FILE", "c.pem")
		_, err = Load(writeConfig(t, minimal))
		if err == nil {
			t.Fatal("Load succeeded")
		}
		check(t, "the error", err.Error())
		want := []string{
			"config: nats.auth.user: required when nats.auth.type is user_password",
			"config: nats.tls.cert_file: set nats.tls.cert_file and nats.tls.key_file together (both or neither) (from FEDSAGA_NATS__TLS__CERT_FILE)",
		}
		if got := errorList(err); !sameProblems(got, want) {
			t.Errorf("Load() =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	})

	t.Run("password from ${NAME} in the environment", func(t *testing.T) {
		isolate(t)
		t.Setenv("FS_TEST_PASSWORD", password)
		t.Setenv("FEDSAGA_NATS__AUTH__PASSWORD", "${FS_TEST_PASSWORD}")
		t.Setenv("FEDSAGA_NATS__AUTH__TOKEN", token)
		c, err := Load(writeConfig(t, minimal+"[nats.auth]\ntype = \"user_password\"\nuser = \"fedsaga\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if c.NATS.Auth.Password.Value() != password || c.NATS.Auth.Token.Value() != token {
			t.Errorf("password %q, token %q", c.NATS.Auth.Password.Value(), c.NATS.Auth.Token.Value())
		}
		check(t, "Print", printed(t, c))

		c.NATS.Auth.User = ""
		c.Observers = []Observer{{Channel: "", NATSSubject: "a.*", Database: "x"}}
		err = c.Validate()
		if err == nil {
			t.Fatal("Validate succeeded")
		}
		check(t, "the error", err.Error())
	})
}

// TestPrintRoundTrip prints a configuration with every kind of new key,
// observers and federation relations among them, and loads it back.
func TestPrintRoundTrip(t *testing.T) {
	const token = "tok-roundtrip-42"
	isolate(t)
	t.Setenv("FS_TEST_TOKEN", token)
	c, err := Load(writeConfig(t, `
[databases.orders]
url = "postgres://app@db:5432/orders"
[databases.inventory]
url = "postgres://app@db:5432/inventory"
[databases.payments]
url = "postgres://app@db:5432/payments"

[federation]
batch_size = 200
default_timeout = "2s"
http_address = "127.0.0.1:8081"
default_page_size = 25
max_page_size = 250
[federation.database_timeouts]
payments = "1500ms"
[federation.relations.lines]
from = "order"
to = "item"

[nats]
url = "tls://nats:4222"
[nats.auth]
type = "token"
token = "${FS_TEST_TOKEN}"
[nats.tls]
ca_file = "/etc/fedsaga/ca.pem"
cert_file = "/etc/fedsaga/client.pem"
key_file = "/etc/fedsaga/client-key.pem"
[nats.jetstream]
manage_streams = false
[nats.jetstream.streams.ORDERS]
retention = "interest"

[events]
publish_timeout = "1m"
relay_delay = "10s"
relay_poll = "2s"
relay_batch = 50

[[observers]]
channel = "order_events"
nats_subject = "fedsaga.pg.order"

[[observers]]
channel = "payment_events"
nats_subject = "fedsaga.pg.payment"
database = "payments"
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Observers) != 2 || len(c.Federation.Relations) != 5 || c.NATS.Auth.Token.Value() != token {
		t.Fatalf("loaded %+v", c)
	}

	var out bytes.Buffer
	if err := c.Print(&out); err != nil {
		t.Fatal(err)
	}
	printed := out.String()
	if strings.Contains(printed, token) {
		t.Errorf("Print shows the token:\n%s", printed)
	}
	for _, want := range []string{
		"token = '[REDACTED]'",
		"[[observers]]\n  channel = 'order_events'\n  database = 'orders'\n  nats_subject = 'fedsaga.pg.order'\n",
		"[[observers]]\n  channel = 'payment_events'\n  database = 'payments'\n  nats_subject = 'fedsaga.pg.payment'\n",
		"[federation.database_timeouts]\n    payments = '1.5s'\n",
		"[federation.relations.lines]\n      from = 'order'\n      to = 'item'\n",
		"retention = 'interest'",
		"manage_streams = false",
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("Print lacks %q:\n%s", want, printed)
		}
	}
	// Sections come in the order of Config's fields: observers between
	// events and worker.
	if e, o, w := strings.Index(printed, "\n[events]"), strings.Index(printed, "\n[[observers]]"), strings.Index(printed, "\n[worker]"); !(e < o && o < w) {
		t.Errorf("sections out of order (events %d, observers %d, worker %d):\n%s", e, o, w, printed)
	}

	// Redacted, the token makes nothing invalid: it loads again as is.
	isolate(t)
	redacted, err := Load(writeConfig(t, printed))
	if err != nil {
		t.Fatalf("loading the printed configuration: %v\n%s", err, printed)
	}
	if redacted.NATS.Auth.Token.Value() != redactedText {
		t.Errorf("token = %q, want the redaction text", redacted.NATS.Auth.Token.Value())
	}

	// With the secret put back, it loads as the configuration printed.
	again, err := Load(writeConfig(t, strings.ReplaceAll(printed, redactedText, token)))
	if err != nil {
		t.Fatalf("loading the printed configuration: %v\n%s", err, printed)
	}
	if !reflect.DeepEqual(again, c) {
		t.Errorf("printed configuration loads as\n%+v\nwant\n%+v", again, c)
	}

	// Printed again, it prints the same.
	var out2 bytes.Buffer
	if err := again.Print(&out2); err != nil {
		t.Fatal(err)
	}
	if out2.String() != printed {
		t.Errorf("printing twice differs:\n%s\nthen\n%s", printed, out2.String())
	}

	// A Config built by hand, not loaded, round-trips the same way.
	built := validConfig()
	for name, db := range built.Databases {
		db.URL = "postgres://app@db/" + name
		built.Databases[name] = db
	}
	built.NATS.Auth = NATSAuth{Type: AuthToken, Token: Secret(token)}
	built.Observers = []Observer{{Channel: "ch", NATSSubject: "a.b", Database: "inventory"}}
	built.Federation.Relations["lines"] = Relation{From: "order", To: "item"}
	built.Federation.DatabaseTimeouts["orders"] = 3 * time.Second
	out.Reset()
	if err := built.Print(&out); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(writeConfig(t, strings.ReplaceAll(out.String(), redactedText, token)))
	if err != nil {
		t.Fatalf("loading the printed configuration: %v\n%s", err, out.String())
	}
	if !reflect.DeepEqual(loaded, built) {
		t.Errorf("printed configuration loads as\n%+v\nwant\n%+v", loaded, built)
	}
}

// TestPrintEscapesObservers checks that a literal "${" in an observer
// survives Print and Load. Known bug: escapeRefs (print.go) does not walk
// []map[string]any, so [[observers]] values are printed unescaped and
// loading them expands ${x}. The test skips while the bug is there; remove
// the skip branch once print.go is fixed.
func TestPrintEscapesObservers(t *testing.T) {
	isolate(t)
	c := validConfig()
	for name, db := range c.Databases {
		db.URL = "postgres://app@db/" + name
		c.Databases[name] = db
	}
	c.Observers = []Observer{{Channel: "ch_${x}", NATSSubject: "a.b", Database: "orders"}}
	var out bytes.Buffer
	if err := c.Print(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "channel = 'ch_$${x}'") {
		t.Errorf("escapeRefs skips [[observers]]: Print wrote\n%s", out.String())
	}
	again, err := Load(writeConfig(t, out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Observers, c.Observers) {
		t.Errorf("observers = %+v, want %+v", again.Observers, c.Observers)
	}
}

// TestTypeErrorHidesSecret checks that a secret of the wrong TOML type is
// not quoted in the error. Known bug: describeValue (load.go) quotes
// integers, so `password = 987654321` gives "expected a string, got integer
// 987654321". The test skips while the bug is there.
func TestTypeErrorHidesSecret(t *testing.T) {
	isolate(t)
	_, err := Load(writeConfig(t, minimal+"[nats.auth]\ntype = \"user_password\"\nuser = \"u\"\npassword = 987654321\ntoken = 123456789\n"))
	if got := problemKeys(err); !sameProblems(got, []string{"nats.auth.password", "nats.auth.token"}) {
		t.Errorf("Load() = %v, want problems with nats.auth.password and nats.auth.token", err)
	}
	if err != nil && (strings.Contains(err.Error(), "987654321") || strings.Contains(err.Error(), "123456789")) {
		t.Errorf("a numeric secret is quoted: %v", err)
	}
}
