package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// DeadLetter is one message of the dead-letter stream.
type DeadLetter struct {
	ID         uint64    `json:"id"`      // its sequence in the dead-letter stream
	Subject    string    `json:"subject"` // the original subject
	Stream     string    `json:"stream"`
	Sequence   uint64    `json:"sequence"` // in Stream
	Consumer   string    `json:"consumer"`
	Deliveries uint64    `json:"deliveries"`
	EventID    string    `json:"event_id,omitempty"` // the original Nats-Msg-Id
	Reason     string    `json:"reason,omitempty"`
	Time       time.Time `json:"time"` // when it was dead-lettered
	// Status is "dead", or "replayed" when Stream holds the event again
	// at ReplayedAs (a sequence after Sequence).
	Status     string `json:"status"`
	ReplayedAs uint64 `json:"replayed_as,omitempty"`
	// Headers and Data are the original message's; Get fills them, List
	// does not.
	Headers nats.Header     `json:"headers,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"` // the JSON body; a body that is no JSON is a JSON string
}

// Dead-letter statuses.
const (
	StatusDead     = "dead"
	StatusReplayed = "replayed"
)

// DeadLetterNotFoundError is an id that the dead-letter stream does not hold.
type DeadLetterNotFoundError struct {
	Stream string
	ID     uint64
}

func (e *DeadLetterNotFoundError) Error() string {
	return fmt.Sprintf("dead letter %d is not in %s (purged, or never there); `fedsaga events dlq list` shows the ids", e.ID, e.Stream)
}

// DuplicateWindowError is a replay that the stream's duplicate window
// would drop: the stream remembers the event id until Until. Nothing was
// changed; replay again after Until.
type DuplicateWindowError struct {
	Stream  string
	EventID string
	Window  time.Duration
	Until   time.Time
}

func (e *DuplicateWindowError) Error() string {
	return fmt.Sprintf("event %s was published to %s less than its duplicate window (%s) ago: a republish with its id "+
		"would be dropped as a duplicate until %s; nothing changed, replay after that",
		e.EventID, e.Stream, e.Window, e.Until.UTC().Format(time.RFC3339))
}

// DeadLetters reads and replays a dead-letter stream.
type DeadLetters struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	name   string
}

// OpenDeadLetters opens the dead-letter stream name.
func OpenDeadLetters(ctx context.Context, js jetstream.JetStream, name string) (*DeadLetters, error) {
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("dead-letter stream %s does not exist: the worker creates it (nats.jetstream.manage_streams), or create it as [nats.jetstream.streams.%s] configures it", name, name)
	}
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", name, err)
	}
	return &DeadLetters{js: js, stream: s, name: name}, nil
}

// List returns every dead letter, oldest first, without headers and data.
func (d *DeadLetters) List(ctx context.Context) ([]DeadLetter, error) {
	info, err := d.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", d.name, err)
	}
	if info.State.Msgs == 0 {
		return []DeadLetter{}, nil
	}
	cons, err := d.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{HeadersOnly: true})
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", d.name, err)
	}
	out := []DeadLetter{}
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("dead-letter stream %s: %w", d.name, err)
		}
		got, pending := 0, uint64(0)
		for msg := range batch.Messages() {
			meta, err := msg.Metadata()
			if err != nil {
				return nil, err
			}
			dl := d.fromHeaders(meta.Sequence.Stream, msg.Headers(), meta.Timestamp)
			if err := d.status(ctx, &dl); err != nil {
				return nil, err
			}
			out = append(out, dl)
			got, pending = got+1, meta.NumPending
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("dead-letter stream %s: %w", d.name, err)
		}
		if got == 0 || pending == 0 {
			return out, nil
		}
	}
}

// Get returns the dead letter id with its headers and data.
func (d *DeadLetters) Get(ctx context.Context, id uint64) (DeadLetter, error) {
	dl, _, err := d.get(ctx, id)
	return dl, err
}

// get is Get, with the stored message.
func (d *DeadLetters) get(ctx context.Context, id uint64) (DeadLetter, *jetstream.RawStreamMsg, error) {
	raw, err := d.stream.GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, nil, &DeadLetterNotFoundError{Stream: d.name, ID: id}
	}
	if err != nil {
		return DeadLetter{}, nil, fmt.Errorf("dead letter %d of %s: %w", id, d.name, err)
	}
	dl := d.fromHeaders(id, raw.Header, raw.Time)
	dl.Headers = nats.Header{}
	for k, v := range raw.Header {
		if !isDeadLetterHeader(k) {
			dl.Headers[k] = v
		}
	}
	dl.Data = raw.Data
	if !json.Valid(raw.Data) {
		dl.Data, _ = json.Marshal(string(raw.Data))
	}
	return dl, raw, d.status(ctx, &dl)
}

func (d *DeadLetters) fromHeaders(id uint64, h nats.Header, at time.Time) DeadLetter {
	num := func(k string) uint64 {
		n, _ := strconv.ParseUint(h.Get(k), 10, 64)
		return n
	}
	return DeadLetter{ID: id, Subject: h.Get(HeaderOriginalSubject), Stream: h.Get(HeaderOriginalStream),
		Sequence: num(HeaderOriginalSequence), Consumer: h.Get(HeaderConsumer), Deliveries: num(HeaderDeliveries),
		EventID: h.Get(HeaderOriginalMsgID), Reason: h.Get(HeaderReason), Time: at.UTC(), Status: StatusDead}
}

// current is the message the original stream holds now on the dead
// letter's subject, nil for none.
func (d *DeadLetters) current(ctx context.Context, dl DeadLetter) (jetstream.Stream, *jetstream.RawStreamMsg, error) {
	orig, err := d.js.Stream(ctx, dl.Stream)
	if err != nil {
		return nil, nil, fmt.Errorf("stream %s of dead letter %d: %w", dl.Stream, dl.ID, err)
	}
	cur, err := orig.GetLastMsgForSubject(ctx, dl.Subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return orig, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("stream %s, subject %s: %w", dl.Stream, dl.Subject, err)
	}
	return orig, cur, nil
}

// status sets whether the dead letter's event is back in its stream: a
// later message on its subject, with its event id.
func (d *DeadLetters) status(ctx context.Context, dl *DeadLetter) error {
	if dl.Stream == "" || dl.Subject == "" {
		return nil
	}
	_, cur, err := d.current(ctx, *dl)
	if err != nil {
		return err
	}
	if cur != nil && cur.Sequence > dl.Sequence && (dl.EventID == "" || cur.Header.Get(jetstream.MsgIDHeader) == dl.EventID) {
		dl.Status, dl.ReplayedAs = StatusReplayed, cur.Sequence
	}
	return nil
}

// Replay puts the event of dead letter id back in its stream, on its
// original subject, with its original event id as Nats-Msg-Id, so every
// consumer of the subject gets it again. The original message is deleted
// first (the order events stream keeps one message per subject). It is
// idempotent: when the stream holds the event again already, Replay
// changes nothing and reports it replayed. A replay that the stream's
// duplicate window would drop is refused with a *DuplicateWindowError,
// before anything changed. The dead letter itself stays (see Purge); its
// status becomes "replayed".
func (d *DeadLetters) Replay(ctx context.Context, id uint64) (DeadLetter, error) {
	dl, raw, err := d.get(ctx, id)
	if err != nil {
		return dl, err
	}
	if dl.Status == StatusReplayed {
		return dl, nil
	}
	if dl.EventID == "" || dl.Stream == "" || dl.Subject == "" {
		return dl, fmt.Errorf("dead letter %d has no event id (it was not a valid order event): it cannot be replayed; purge it", id)
	}
	orig, cur, err := d.current(ctx, dl)
	if err != nil {
		return dl, err
	}
	info, err := orig.Info(ctx)
	if err != nil {
		return dl, fmt.Errorf("stream %s: %w", dl.Stream, err)
	}
	window := info.Config.Duplicates
	if cur != nil {
		// cur is the original message (a later one made it "replayed").
		if until := cur.Time.Add(window); time.Now().Before(until) {
			return dl, &DuplicateWindowError{Stream: dl.Stream, EventID: dl.EventID, Window: window, Until: until}
		}
		if err := orig.DeleteMsg(ctx, cur.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return dl, fmt.Errorf("delete message %d of %s before the replay: %w", cur.Sequence, dl.Stream, err)
		}
	}
	msg := &nats.Msg{Subject: dl.Subject, Data: raw.Data, Header: nats.Header{}}
	for k, v := range dl.Headers {
		msg.Header[k] = v
	}
	msg.Header.Del(jetstream.MsgIDHeader)
	msg.Header.Set(HeaderReplayOf, fmt.Sprintf("%s/%d", d.name, id))
	ack, err := d.js.PublishMsg(ctx, msg, jetstream.WithMsgID(dl.EventID), jetstream.WithExpectStream(dl.Stream))
	if err != nil {
		return dl, fmt.Errorf("republish event %s to %s: %w", dl.EventID, dl.Stream, err)
	}
	if ack.Duplicate {
		// Only when the original was gone before this replay started and
		// was stored less than the window ago: nothing is stored.
		return dl, &DuplicateWindowError{Stream: dl.Stream, EventID: dl.EventID, Window: window, Until: time.Now().Add(window)}
	}
	dl.Status, dl.ReplayedAs = StatusReplayed, ack.Sequence
	return dl, nil
}

// ReplayAll replays every dead letter that is not replayed yet, oldest
// first, and returns them all with their status; it stops at the first
// error.
func (d *DeadLetters) ReplayAll(ctx context.Context) ([]DeadLetter, error) {
	all, err := d.List(ctx)
	if err != nil {
		return nil, err
	}
	for i, dl := range all {
		if dl.Status == StatusReplayed {
			continue
		}
		if all[i], err = d.Replay(ctx, dl.ID); err != nil {
			return all[:i], fmt.Errorf("dead letter %d: %w", dl.ID, err)
		}
		all[i].Headers, all[i].Data = nil, nil
	}
	return all, nil
}

// Purge removes every dead letter and returns how many there were.
func (d *DeadLetters) Purge(ctx context.Context) (uint64, error) {
	info, err := d.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("dead-letter stream %s: %w", d.name, err)
	}
	if err := d.stream.Purge(ctx); err != nil {
		return 0, fmt.Errorf("purge %s: %w", d.name, err)
	}
	return info.State.Msgs, nil
}

// DeadLetterCollector exports fedsaga_dlq_messages, the messages in the
// dead-letter stream (dead letters replayed or not, until purge), read from
// the server at every scrape: a growing value is a consumer whose messages
// exhaust their deliveries.
type DeadLetterCollector struct {
	js     jetstream.JetStream
	stream string
	logger zerolog.Logger
	desc   *prometheus.Desc
}

// NewDeadLetterCollector returns the collector of the dead-letter stream
// named stream.
func NewDeadLetterCollector(js jetstream.JetStream, stream string, logger zerolog.Logger) *DeadLetterCollector {
	return &DeadLetterCollector{js: js, stream: stream, logger: logger,
		desc: prometheus.NewDesc("fedsaga_dlq_messages", "Messages in the dead-letter stream (until fedsaga events dlq purge).",
			nil, prometheus.Labels{"stream": stream})}
}

// Describe sends the description of fedsaga_dlq_messages.
func (c *DeadLetterCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect reads the stream's message count; a stream that cannot be read
// (missing, NATS down) is left out, with a log line.
func (c *DeadLetterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	s, err := c.js.Stream(ctx, c.stream)
	if err != nil {
		c.logger.Warn().Err(err).Str("stream", c.stream).Msg("dead-letter metrics: cannot read the stream")
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(s.CachedInfo().State.Msgs))
}
