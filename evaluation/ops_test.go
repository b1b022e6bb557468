package evaluation

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
)

// evalRule compiles rule leniently (as flagd would load it) for flag "flag"
// and evaluates it against data at Unix time 1700000000.
func evalRule(t *testing.T, rule, data string) value {
	t.Helper()
	var raw any
	if err := json.Unmarshal([]byte(rule), &raw); err != nil {
		t.Fatalf("rule %s: %v", rule, err)
	}
	var ctx map[string]any
	if data != "" {
		if err := json.Unmarshal([]byte(data), &ctx); err != nil {
			t.Fatalf("data %s: %v", data, err)
		}
	}
	c := &compiler{flagKey: "flag", report: true, evals: &evaluatorSet{bodies: map[string]any{
		"positive": map[string]any{">": []any{map[string]any{"var": "n"}, 0.0}},
	}}}
	return c.compile(raw, "", false).fn(env{ctx: ctx, now: 1700000000})
}

// show renders a value as JSON, numbers with %g, errors as ERROR.
func show(v value) string {
	switch v.k {
	case kErr:
		return "ERROR"
	case kNum:
		if math.IsInf(v.n, 0) || math.IsNaN(v.n) {
			return strconv.FormatFloat(v.n, 'g', -1, 64)
		}
		return jsonNumberText(v.n)
	}
	b, err := json.Marshal(toAny(v))
	if err != nil {
		return "unmarshalable: " + err.Error()
	}
	return string(b)
}

type opCase struct {
	rule, data, want string
}

func runOpCases(t *testing.T, cases []opCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.rule+" "+tc.data, func(t *testing.T) {
			if got := show(evalRule(t, tc.rule, tc.data)); got != tc.want {
				t.Errorf("rule %s on %s: got %s, want %s", tc.rule, tc.data, got, tc.want)
			}
		})
	}
}

func TestVar(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"var":"a"}`, `{"a":1}`, `1`},
		{`{"var":"a.b"}`, `{"a":{"b":"x"}}`, `"x"`},
		{`{"var":"a.1"}`, `{"a":[10,20]}`, `20`},
		{`{"var":"a.x"}`, `{"a":[10,20]}`, `10`}, // unparsable index is 0
		{`{"var":"a.5"}`, `{"a":[1]}`, `null`},
		{`{"var":"a..b"}`, `{"a":{"b":2}}`, `2`},
		{`{"var":"a.b"}`, `{"a":"str"}`, `null`},
		{`{"var":["a.b","d"]}`, `{"a":"str"}`, `"d"`},
		{`{"var":["a",7]}`, `{}`, `7`},
		{`{"var":["a",7]}`, `{"a":null}`, `7`},
		{`{"var":["a",7]}`, `{"a":false}`, `false`},
		{`{"var":["a",7,8]}`, `{}`, `null`}, // three elements: no default
		{`{"var":["a"]}`, `{"a":"x"}`, `"x"`},
		{`{"var":"missing"}`, `{}`, `null`},
		{`{"var":"missing"}`, ``, `null`},
		{`{"var":1}`, `{"1":"one"}`, `"one"`},
		{`{"var":null}`, `{"a":1}`, `null`},
		{`{"var":""}`, `{"a":1}`, `{"$flagd":{"flagKey":"flag","timestamp":1700000000},"a":1}`},
		{`{"var":[]}`, `{}`, `{"$flagd":{"flagKey":"flag","timestamp":1700000000}}`},
		{`{"var":true}`, `{}`, `ERROR`},
		{`{"var":[1]}`, `{}`, `ERROR`},
		{`{"var":{"cat":["a",".b"]}}`, `{"a":{"b":3}}`, `3`},
		{`{"var":"$flagd.flagKey"}`, `{}`, `"flag"`},
		{`{"var":"$flagd.timestamp"}`, `{}`, `1700000000`},
		{`{"var":"$flagd"}`, `{}`, `{"flagKey":"flag","timestamp":1700000000}`},
		{`{"var":"$flagd.flagKey"}`, `{"$flagd":{"flagKey":"evil"}}`, `"flag"`},
		{`{"var":"$flagd.other"}`, `{"$flagd":{"other":1}}`, `null`},
		{`{"var":"targetingKey"}`, `{"targetingKey":"u1"}`, `"u1"`},
	})
}

func TestMissing(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"missing":["a","b"]}`, `{"a":1}`, `["b"]`},
		{`{"missing":"a"}`, `{}`, `["a"]`},
		{`{"missing":[]}`, `{}`, `[]`},
		{`{"missing":["a.b"]}`, `{"a":{"b":0}}`, `[]`},
		{`{"missing":["$flagd.flagKey"]}`, `{}`, `[]`},
		{`{"missing":5}`, `{}`, `ERROR`},
		{`{"missing":{"merge":[["a"],["b"]]}}`, `{"b":1}`, `["a"]`},
		{`{"missing_some":[1,["a","b","c"]]}`, `{"a":1}`, `[]`},
		{`{"missing_some":[2,["a","b","c"]]}`, `{"a":1}`, `["b","c"]`},
		{`{"missing_some":[true,["a"]]}`, `{}`, `ERROR`},
		{`{"missing_some":[1]}`, `{}`, `ERROR`},
		{`{"missing_some":[1,"a"]}`, `{}`, `ERROR`},
	})
}

func TestIf(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"if":[true,"yes","no"]}`, ``, `"yes"`},
		{`{"if":[false,"yes","no"]}`, ``, `"no"`},
		{`{"if":[false,"yes"]}`, ``, `null`},
		{`{"if":[true]}`, ``, `true`}, // one argument: the else branch
		{`{"if":[]}`, ``, `null`},
		{`{"if":[false,1,false,2,3]}`, ``, `3`},
		{`{"if":[false,1,true,2,3]}`, ``, `2`},
		{`{"?:":[true,1,2]}`, ``, `1`},
		{`{"if":true}`, ``, `ERROR`},
		{`{"if":[[],"a","b"]}`, ``, `"b"`},
		{`{"if":[[0],"a","b"]}`, ``, `"a"`},
		{`{"if":["0","a","b"]}`, ``, `"a"`},
		{`{"if":["","a","b"]}`, ``, `"b"`},
		{`{"if":[{"var":"n"},"a","b"]}`, `{"n":0}`, `"b"`},
		{`{"if":[{"var":"o"},"a","b"]}`, `{"o":{}}`, `"b"`},
		{`{"if":[true,{"var":"o"}]}`, `{"o":{"x":1}}`, `ERROR`}, // a one-key object is applied as a rule
		{`{"if":[true,{"var":"o"}]}`, `{"o":{"x":1,"y":2}}`, `{"x":1,"y":2}`},
		{`{"if":[true,{"x":1,"y":2}]}`, ``, `{"x":1,"y":2}`},
		{`{"if":[{"nope":1},"a","b"]}`, ``, `ERROR`},
		{`{"if":[true,"a",{"nope":1}]}`, ``, `"a"`}, // failures only when reached
	})
}

func TestTruthiness(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"!!":[0]}`, ``, `false`},
		{`{"!!":[-1]}`, ``, `true`},
		{`{"!!":["0"]}`, ``, `true`},
		{`{"!!":[""]}`, ``, `false`},
		{`{"!!":[[]]}`, ``, `false`},
		{`{"!!":[[0]]}`, ``, `true`},
		{`{"!!":[{}]}`, ``, `false`},
		{`{"!!":[null]}`, ``, `false`},
		{`{"!!":[{"/":[0,0]}]}`, ``, `true`}, // NaN is truthy in this library
		{`{"!!":[]}`, ``, `false`},
		{`{"!!":"x"}`, ``, `true`},
		{`{"!":[true]}`, ``, `false`},
		{`{"!":true}`, ``, `false`},
		{`{"!":[]}`, ``, `true`},
		{`{"!":[false,true]}`, ``, `true`}, // only the first argument counts
		{`{"!":{"var":"arr"}}`, `{"arr":[0]}`, `true`},
		{`{"!":{"var":"arr"}}`, `{"arr":[1]}`, `false`},
		{`{"!":{"var":"arr"}}`, `{"arr":[]}`, `true`},
		{`{"!":[{"var":"x"}]}`, `{"x":"a"}`, `false`},
	})
}

func TestEquality(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"==":[1,"1"]}`, ``, `true`},
		{`{"==":[0,""]}`, ``, `true`},
		{`{"==":[0," "]}`, ``, `true`},
		{`{"==":["1e3",1000]}`, ``, `true`},
		{`{"==":[null,0]}`, ``, `false`},
		{`{"==":[null,null]}`, ``, `true`},
		{`{"==":[true,1]}`, ``, `true`},
		{`{"==":[false,"0"]}`, ``, `true`},
		{`{"==":["a","a"]}`, ``, `true`},
		{`{"==":["a","A"]}`, ``, `false`},
		{`{"==":[[1],[1]]}`, ``, `false`},
		{`{"==":["abc",{"/":[0,0]}]}`, ``, `false`},
		{`{"==":[1]}`, ``, `false`},
		{`{"==":5}`, ``, `ERROR`},
		{`{"==":[{"var":"a"},"x"]}`, `{"a":"x"}`, `true`},
		{`{"==":["x",{"var":"a"}]}`, `{"a":"y"}`, `false`},
		{`{"==":[{"var":"a"},{"var":"b"}]}`, `{"a":2,"b":"2"}`, `true`},
		{`{"!=":[1,2]}`, ``, `true`},
		{`{"!=":[1,"1"]}`, ``, `false`},
		{`{"!=":[1]}`, ``, `true`},
		{`{"===":[1,1]}`, ``, `true`},
		{`{"===":[1,"1"]}`, ``, `false`},
		{`{"===":[null,null]}`, ``, `true`},
		{`{"===":[null,0]}`, ``, `false`},
		{`{"===":[[],[]]}`, ``, `false`},
		{`{"===":[true,true]}`, ``, `true`},
		{`{"===":5}`, ``, `false`},
		{`{"===":[1]}`, ``, `false`},
		{`{"!==":[1,"1"]}`, ``, `true`},
		{`{"!==":5}`, ``, `true`},
	})
}

func TestComparison(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"<":[1,2]}`, ``, `true`},
		{`{"<":[2,1]}`, ``, `false`},
		{`{"<":["a","b"]}`, ``, `true`},
		{`{"<":["10","9"]}`, ``, `true`}, // two strings compare as strings
		{`{"<":[10,"9"]}`, ``, `false`},  // otherwise as numbers
		{`{"<":[null,1]}`, ``, `true`},
		{`{"<":["a",1]}`, ``, `false`},
		{`{"<":[1,2,3]}`, ``, `true`},
		{`{"<":[1,3,2]}`, ``, `false`},
		{`{"<":[1,2,3,0]}`, ``, `true`}, // four arguments: only the first two count
		{`{"<":[1]}`, ``, `false`},
		{`{"<":5}`, ``, `ERROR`},
		{`{"<=":[2,2]}`, ``, `true`},
		{`{"<=":[1,2,2]}`, ``, `true`},
		{`{"<=":[1,3,2]}`, ``, `false`},
		{`{"<=":[null,null]}`, ``, `true`},
		{`{">":[2,1]}`, ``, `true`},
		{`{">":[3,2,1]}`, ``, `true`},
		{`{">":[3,1,2]}`, ``, `false`},
		{`{">=":[2,2]}`, ``, `true`},
		{`{">=":[3,3,1]}`, ``, `true`},
		{`{">=":[1,2]}`, ``, `false`},
		{`{">":[{"var":"age"},17]}`, `{"age":18}`, `true`},
		{`{">":[{"var":"age"},17]}`, `{"age":"18"}`, `true`},
		{`{">":[{"var":"age"},17]}`, `{}`, `false`},
		{`{"<":[17,{"var":"age"}]}`, `{"age":18}`, `true`},
		{`{"<":[1,{"var":"x"},3]}`, `{"x":2}`, `true`},
	})
}

func TestAndOr(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"and":[true,"a",3]}`, ``, `3`},
		{`{"and":[true,"",3]}`, ``, `""`},
		{`{"and":[]}`, ``, `null`},
		{`{"and":true}`, ``, `ERROR`},
		{`{"or":[false,0,"x"]}`, ``, `"x"`},
		{`{"or":[false,0]}`, ``, `0`},
		{`{"or":[]}`, ``, `null`},
		{`{"or":[true,{"+":[true]}]}`, ``, `true`},    // short circuit: the failing
		{`{"and":[false,{"+":[true]}]}`, ``, `false`}, // operand is never evaluated
		{`{"and":[true,{"+":[true]}]}`, ``, `ERROR`},
		{`{"if":[{"and":[{"var":"a"},{"var":"b"}]},"y","n"]}`, `{"a":1,"b":1}`, `"y"`},
		{`{"if":[{"and":[{"var":"a"},{"var":"b"}]},"y","n"]}`, `{"a":1}`, `"n"`},
		{`{"if":[{"or":[{"var":"a"},{"var":"b"}]},"y","n"]}`, `{"b":1}`, `"y"`},
		{`{"if":[{"and":[true,{"+":[null]}]},"y","n"]}`, ``, `ERROR`},
	})
}

func TestArithmetic(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"max":[1,3,2]}`, ``, `3`},
		{`{"min":[1,"-2",3]}`, ``, `-2`},
		{`{"max":[]}`, ``, `null`},
		{`{"max":[1,null]}`, ``, `ERROR`},
		{`{"max":[1,"x"]}`, ``, `1`}, // unparsable text is 0
		{`{"max":5}`, ``, `ERROR`},
		{`{"+":[1,2,"3"]}`, ``, `6`},
		{`{"+":[]}`, ``, `0`},
		{`{"+":["1.5"]}`, ``, `1.5`},
		{`{"+":"5"}`, ``, `5`},
		{`{"+":[true]}`, ``, `ERROR`},
		{`{"+":[null,1]}`, ``, `ERROR`},
		{`{"+":["abc",1]}`, ``, `1`},
		{`{"+":{"var":"arr"}}`, `{"arr":[1,2]}`, `3`},
		{`{"-":[5,2]}`, ``, `3`},
		{`{"-":[5]}`, ``, `-5`},
		{`{"-":[]}`, ``, `0`},
		{`{"-":[5,2,1]}`, ``, `2`},
		{`{"-":5}`, ``, `ERROR`},
		{`{"*":[2,3]}`, ``, `6`},
		{`{"*":[]}`, ``, `1`},
		{`{"*":[2,"x"]}`, ``, `0`},
		{`{"*":5}`, ``, `ERROR`},
		{`{"/":[6,3]}`, ``, `2`},
		{`{"/":[1,0]}`, ``, `+Inf`},
		{`{"/":[]}`, ``, `0`},
		{`{"%":[7,3]}`, ``, `1`},
		{`{"%":[-7,3]}`, ``, `-1`},
		{`{"%":["7","3"]}`, ``, `1`},
		{`{"%":[7]}`, ``, `ERROR`},
		{`{"abs":[-3]}`, ``, `3`},
		{`{"abs":-3}`, ``, `3`},
		{`{"abs":[]}`, ``, `ERROR`},
		{`{"*":[{"var":"price"},{"var":"qty"}]}`, `{"price":2.5,"qty":4}`, `10`},
	})
}

func TestStringAndArrayOps(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"merge":[[1,2],3,[4,[5]]]}`, ``, `[1,2,3,4,[5]]`},
		{`{"merge":[]}`, ``, `[]`},
		{`{"merge":"a"}`, ``, `["a"]`},
		{`{"merge":null}`, ``, `ERROR`},
		{`{"merge":[{"var":"a"},{"var":"b"}]}`, `{"a":[1],"b":2}`, `[1,2]`},
		{`{"cat":["a","b"]}`, ``, `"ab"`},
		{`{"cat":["a ","b "]}`, ``, `"a b"`}, // several arguments: trimmed
		{`{"cat":[" a"]}`, ``, `" a"`},       // one argument: not trimmed
		{`{"cat":[1.5,"x"]}`, ``, `"1.5x"`},
		{`{"cat":[1e21,""]}`, ``, `"1000000000000000000000"`},
		{`{"cat":[null,"x"]}`, ``, `"x"`},
		{`{"cat":[true]}`, ``, `ERROR`},
		{`{"cat":[]}`, ``, `""`},
		{`{"cat":"s"}`, ``, `"s"`},
		{`{"cat":5}`, ``, `ERROR`},
		{`{"cat":[{"var":"$flagd.flagKey"},{"var":"user.name"}]}`, `{"user":{"name":"ada"}}`, `"flagada"`},
		{`{"substr":["abcdef",2]}`, ``, `"cdef"`},
		{`{"substr":["abcdef",-2]}`, ``, `"ef"`},
		{`{"substr":["abcdef",1,2]}`, ``, `"bc"`},
		{`{"substr":["abcdef",1,-1]}`, ``, `"bcde"`},
		{`{"substr":["abcdef",10]}`, ``, `"abcdef"`},
		{`{"substr":["abcdef",-10]}`, ``, `"abcdef"`},
		{`{"substr":["héllo",1,3]}`, ``, `"éll"`},
		{`{"substr":["abcdef",4,-3]}`, ``, `ERROR`},
		{`{"substr":["abc"]}`, ``, `ERROR`},
		{`{"substr":[12345,1,2]}`, ``, `"23"`},
		{`{"in":["a","abc"]}`, ``, `true`},
		{`{"in":["d","abc"]}`, ``, `false`},
		{`{"in":[1,"123"]}`, ``, `ERROR`},
		{`{"in":["b",["a","b"]]}`, ``, `true`},
		{`{"in":["c",["a","b"]]}`, ``, `false`},
		{`{"in":[2,[1,2]]}`, ``, `true`},
		{`{"in":[2,["2"]]}`, ``, `true`},
		{`{"in":[2,[true]]}`, ``, `ERROR`},
		{`{"in":["2",[2]]}`, ``, `false`},
		{`{"in":[5,[[1,10]]]}`, ``, `true`}, // an array element is a [low, high] range
		{`{"in":[15,[[1,10]]]}`, ``, `false`},
		{`{"in":["x",[[1]]]}`, ``, `ERROR`},
		{`{"in":[null,[null]]}`, ``, `true`},
		{`{"in":[true,[true]]}`, ``, `true`},
		{`{"in":["a",5]}`, ``, `false`},
		{`{"in":["a"]}`, ``, `false`},
		{`{"in":[]}`, ``, `ERROR`},
		{`{"in":[{"var":"c"},["NL","BE"]]}`, `{"c":"BE"}`, `true`},
		{`{"in":[{"var":"c"},["NL","BE"]]}`, `{"c":"FR"}`, `false`},
		{`{"in":[{"var":"c"},["NL","BE"]]}`, `{}`, `false`},
		{`{"in":[{"var":"c"},["1","2"]]}`, `{"c":2}`, `true`},
		{`{"in":["admin",{"var":"roles"}]}`, `{"roles":["user","admin"]}`, `true`},
		{`{"contains_all":[["a","b","c"],["a","b"]]}`, ``, `true`},
		{`{"contains_all":[["a"],["a","b"]]}`, ``, `false`},
		{`{"contains_all":[["a"],[]]}`, ``, `true`},
		{`{"contains_all":["x",["a"]]}`, ``, `false`},
		{`{"contains_all":[[1,2],[2.0]]}`, ``, `true`},
		{`{"contains_any":[["a","b"],["x","b"]]}`, ``, `true`},
		{`{"contains_any":[["a","b"],["x"]]}`, ``, `false`},
		{`{"contains_none":[["a"],["b"]]}`, ``, `true`},
		{`{"contains_none":[["a"],["a"]]}`, ``, `false`},
		{`{"contains_none":"x"}`, ``, `true`},
		{`{"starts_with":[{"var":"s"},"ab"]}`, `{"s":"abc"}`, `true`},
		{`{"starts_with":["abc","x"]}`, ``, `false`},
		{`{"starts_with":[1,"a"]}`, ``, `null`}, // flagd: null, not false
		{`{"starts_with":[{"var":"n"},"a"]}`, `{"n":1}`, `null`},
		{`{"starts_with":["a"]}`, ``, `null`},
		{`{"starts_with":"a"}`, ``, `null`},
		{`{"ends_with":[{"var":"email"},"@example.com"]}`, `{"email":"ada@example.com"}`, `true`},
		{`{"ends_with":[{"var":"email"},"@example.com"]}`, `{"email":"ada@example.org"}`, `false`},
		{`{"ends_with":[{"var":"email"},"@example.com"]}`, `{}`, `null`},
	})
}

func TestArrayOps(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"map":[[1,2,3],{"*":[{"var":""},2]}]}`, ``, `[2,4,6]`},
		{`{"map":[{"var":"xs"},{"+":[{"var":""},1]}]}`, `{"xs":[1,2]}`, `[2,3]`},
		{`{"map":[{"var":"none"},1]}`, ``, `[]`},
		{`{"map":[{"var":"s"},1]}`, `{"s":"abc"}`, `ERROR`},
		{`{"map":[[1]]}`, ``, `[]`},
		{`{"map":[[{"var":"a"}],{"var":""}]}`, ``, `[{"var":"a"}]`}, // a literal array is data
		{`{"map":[[{"id":1}],{"var":"id"}]}`, `{"id":9}`, `[1]`},
		{`{"map":true}`, ``, `ERROR`},
		{`{"filter":[[1,2,3,4],{"%":[{"var":""},2]}]}`, ``, `[1,3]`},
		{`{"filter":[[{"id":1},{"id":2}],{"==":[{"var":"id"},2]}]}`, `{}`, `[{"id":2}]`},
		// filter substitutes vars from the enclosing data first:
		{`{"filter":[[{"id":1},{"id":2}],{"==":[{"var":"id"},2]}]}`, `{"id":1}`, `[]`},
		{`{"filter":[[1,2],{"var":""}]}`, `{}`, `[1,2]`},
		{`{"all":[[1,2],{">":[{"var":""},0]}]}`, ``, `true`},
		{`{"all":[[],{">":[{"var":""},0]}]}`, ``, `false`}, // an empty array is not all-true here
		{`{"all":[[1,-1],{">":[{"var":""},0]}]}`, ``, `false`},
		{`{"all":[[1],true]}`, ``, `ERROR`},
		{`{"all":[{"var":"s"},{"var":""}]}`, `{"s":"abc"}`, `ERROR`},
		{`{"all":[[1]]}`, ``, `ERROR`},
		{`{"all":[[{"ok":true}],{"var":"ok"}]}`, ``, `ERROR`}, // a bare var becomes the rule
		{`{"some":[[1,-1],{"<":[{"var":""},0]}]}`, ``, `true`},
		{`{"some":[[],{"<":[{"var":""},0]}]}`, ``, `false`},
		{`{"some":[[{"ok":false}],{"var":"nope"}]}`, ``, `false`},
		{`{"some":[{"var":"items"},{"==":[{"var":"id"},5]}]}`, `{"items":[{"id":4},{"id":5}]}`, `true`},
		{`{"some":[{"var":"items"},{"==":[{"var":"id"},5]}]}`, `{"items":[{"id":4},{"id":5}],"id":3}`, `false`},
		{`{"none":[[1,2],{"<":[{"var":""},0]}]}`, ``, `true`},
		{`{"none":[[],{"<":[{"var":""},0]}]}`, ``, `true`},
		{`{"none":[[-1],{"<":[{"var":""},0]}]}`, ``, `false`},
		{`{"none":[[{"ok":true}],{"var":"ok"}]}`, ``, `false`},
		{`{"reduce":[[1,2,3],{"+":[{"var":"current"},{"var":"accumulator"}]},0]}`, ``, `6`},
		{`{"reduce":[[1,null,3],{"+":[{"var":"current"},{"var":"accumulator"}]},0]}`, ``, `4`},
		{`{"reduce":[["a","b"],{"cat":[{"var":"accumulator"},{"var":"current"}]},""]}`, ``, `"ab"`},
		{`{"reduce":[[1,2],{"var":"valueType"},"x"]}`, ``, `"string"`},
		{`{"reduce":[[true,false],{"and":[{"var":"accumulator"},{"var":"current"}]},true]}`, ``, `false`},
		{`{"reduce":[[1],{"+":[1]},null]}`, ``, `ERROR`},
		{`{"reduce":[[1],{"+":[1]}]}`, ``, `0`},
		{`{"reduce":[{"var":"none"},{"+":[1]},5]}`, ``, `0`},
		{`{"reduce":[{"var":"xs"},{"+":[{"var":"current.n"},{"var":"accumulator"}]},{"var":"start"}]}`,
			`{"xs":[{"n":1},{"n":2}],"start":10}`, `13`},
		{`{"some":[{"var":"teams"},{"in":[{"var":""},{"var":"allowed"}]}]}`, `{"teams":["a","b"],"allowed":["b"]}`, `true`},
		{`{"map":[[1,2],{"map":[[10],{"+":[{"var":""},1]}]}]}`, ``, `[[11],[11]]`},
	})
}

func TestSemVerOp(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"sem_ver":["1.2.3","=","1.2.3"]}`, ``, `true`},
		{`{"sem_ver":["v1.2.3","=","1.2.3"]}`, ``, `true`},
		{`{"sem_ver":["V1.2.3","=","v1.2.3"]}`, ``, `true`},
		{`{"sem_ver":["1.2.3","!=","1.2.4"]}`, ``, `true`},
		{`{"sem_ver":["1.2.3","^","1.9.0"]}`, ``, `true`},
		{`{"sem_ver":["2.0.0","^","1.9.0"]}`, ``, `false`},
		{`{"sem_ver":["1.2.3","~","1.2.9"]}`, ``, `true`},
		{`{"sem_ver":["1.2.3","~","1.3.0"]}`, ``, `false`},
		{`{"sem_ver":["1.2.3","<","1.10.0"]}`, ``, `true`},
		{`{"sem_ver":["1.2.3","<=","1.2.3"]}`, ``, `true`},
		{`{"sem_ver":["1.2.3",">","1.2.3-rc.1"]}`, ``, `true`},
		{`{"sem_ver":["1.2.3",">=","1.2.4"]}`, ``, `false`},
		{`{"sem_ver":["1.0.0-alpha","<","1.0.0"]}`, ``, `true`},
		{`{"sem_ver":["1.0.0-alpha.1","<","1.0.0-alpha.beta"]}`, ``, `true`},
		{`{"sem_ver":["1.0.0-2","<","1.0.0-10"]}`, ``, `true`},
		{`{"sem_ver":["1.0.0+b1","=","1.0.0+b2"]}`, ``, `true`}, // build metadata is ignored
		{`{"sem_ver":[1,"=","1.0.0"]}`, ``, `true`},
		{`{"sem_ver":[1.2,">","1.1"]}`, ``, `true`},
		{`{"sem_ver":["1.2","=","1.2.0"]}`, ``, `true`},
		{`{"sem_ver":["1.2.3.4","=","1"]}`, ``, `null`},
		{`{"sem_ver":["1.2.3","==","1.2.3"]}`, ``, `null`},
		{`{"sem_ver":["01.2.3","=","1.2.3"]}`, ``, `null`},
		{`{"sem_ver":["1.2-pre","=","1.2.0"]}`, ``, `null`},
		{`{"sem_ver":[null,"=","1.0.0"]}`, ``, `null`},
		{`{"sem_ver":["1.0.0","="]}`, ``, `null`},
		{`{"sem_ver":[{"var":"v"},">=","2.3.0"]}`, `{"v":"2.4.1"}`, `true`},
		{`{"sem_ver":[{"var":"v"},">=","2.3.0"]}`, `{"v":"2.2.9"}`, `false`},
		{`{"sem_ver":[{"var":"v"},">=","2.3.0"]}`, `{"v":"junk"}`, `null`},
		{`{"sem_ver":[{"var":"v"},{"var":"op"},"2.3.0"]}`, `{"v":"2.3.0","op":"="}`, `true`},
		{`{"if":[{"sem_ver":[{"var":"v"},"^","2.0.0"]},"a","b"]}`, `{"v":"2.9.9"}`, `"a"`},
		{`{"if":[{"sem_ver":[{"var":"v"},"^","2.0.0"]},"a","b"]}`, `{"v":"x"}`, `"b"`},
	})
}

func TestUnsupported(t *testing.T) {
	runOpCases(t, []opCase{
		{`{"log":["x"]}`, ``, `ERROR`},
		{`{"nope":1}`, ``, `ERROR`},
		{`{"$ref":"nope"}`, ``, `ERROR`},
		{`{"$ref":"positive"}`, `{"n":1}`, `true`},
		{`{"if":[{"$ref":"positive"},"y","n"]}`, `{"n":-1}`, `"n"`},
		{`{"a":1,"b":2}`, ``, `{"a":1,"b":2}`},
		{`{}`, ``, `{}`},
		{`[1,{"var":"x"}]`, `{"x":2}`, `[1,2]`},
		{`"on"`, ``, `"on"`},
	})
}

func TestContextValueTypes(t *testing.T) {
	c := &compiler{flagKey: "flag", report: true}
	rule := c.compile(map[string]any{"+": []any{map[string]any{"var": "a"}, map[string]any{"var": "b.c"}}}, "", false)
	ctx := map[string]any{"a": int(2), "b": map[string]int{"c": 3}}
	if got := show(rule.fn(env{ctx: ctx})); got != "5" {
		t.Errorf("Go int context values: got %s, want 5", got)
	}
	in := c.compile(map[string]any{"in": []any{"b", map[string]any{"var": "list"}}}, "", false)
	if got := show(in.fn(env{ctx: map[string]any{"list": []string{"a", "b"}}})); got != "true" {
		t.Errorf("[]string context value: got %s, want true", got)
	}
	bad := c.compile(map[string]any{"var": "ch"}, "", false)
	if v := bad.fn(env{ctx: map[string]any{"ch": make(chan int)}}); v.k != kErr || !v.ctx {
		t.Errorf("a channel in the context: got %s (ctx error %v), want an INVALID_CONTEXT error", show(v), v.ctx)
	}
}
