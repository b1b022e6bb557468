package flagdapi

import (
	"fmt"

	"connectrpc.com/connect"

	evalv1 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v1"
	evalv2 "buf.build/gen/go/open-feature/flagd/protocolbuffers/go/flagd/evaluation/v2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// eventCodec is connect's protobuf codec for the evaluation services, but
// that an EventStreamResponse whose data is a configuration_change shared
// by the streams (changeMemo) is written with that data's encoding, made
// once per change: encoding it per stream cost more than building it once
// did (100 changed flags, profiled). JSON streams encode it per stream.
type eventCodec struct{ memo *changeMemo }

func (eventCodec) Name() string { return "proto" }

func (eventCodec) IsBinary() bool { return true }

func (c eventCodec) Marshal(message any) ([]byte, error) { return c.MarshalAppend(nil, message) }

func (c eventCodec) MarshalAppend(dst []byte, message any) ([]byte, error) {
	var typ string
	var data *structpb.Struct
	switch m := message.(type) {
	case *evalv1.EventStreamResponse:
		typ, data = m.GetType(), m.GetData()
	case *evalv2.EventStreamResponse:
		typ, data = m.GetType(), m.GetData()
	}
	if data != nil {
		if wire := c.memo.wire(data); wire != nil {
			// Both versions' EventStreamResponse: type = 1, data = 2.
			if typ != "" {
				dst = protowire.AppendTag(dst, 1, protowire.BytesType)
				dst = protowire.AppendString(dst, typ)
			}
			dst = protowire.AppendTag(dst, 2, protowire.BytesType)
			return protowire.AppendBytes(dst, wire), nil
		}
	}
	m, ok := message.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", message)
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, m)
}

func (eventCodec) Unmarshal(data []byte, message any) error {
	m, ok := message.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", message)
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", message, err)
	}
	return nil
}

// eventCodec is the handler option of the evaluation services' codec.
func (s *Server) eventCodec() connect.HandlerOption {
	return connect.WithCodec(eventCodec{&s.changes})
}
