#include "io/torch_pickle.h"

#include <cstring>
#include <memory>
#include <optional>
#include <unordered_map>
#include <variant>

#include "core/error.h"

namespace sv::io {

namespace {

// Nesting deeper than this is not a state dict (and would make destruction
// recurse without bound).
constexpr int kMaxDepth = 64;

enum class Global { OrderedDict, RebuildTensorV2, RebuildParameter, Storage };

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct StorageRef {
  DType dtype;
  std::string key;
  int64_t numel;
};

struct GlobalRef {
  Global kind;
  DType storage_dtype = DType::F32;  // for Global::Storage
  std::string name;
};

struct Sequence {
  std::vector<ValuePtr> items;
  bool is_tuple = false;
};

struct Dict {
  std::vector<std::pair<ValuePtr, ValuePtr>> items;
};

struct Value {
  std::variant<std::monostate, bool, int64_t, double, std::string, Sequence, Dict, GlobalRef,
               StorageRef, TorchTensorRecord>
      v;
  int depth = 0;
};

ValuePtr make(auto&& x, int depth = 0) {
  auto p = std::make_shared<Value>();
  p->v = std::forward<decltype(x)>(x);
  p->depth = depth;
  return p;
}

// The storage classes torch.save names, by their torch attribute name.
std::optional<DType> storage_dtype(std::string_view name) {
  if (name == "FloatStorage") return DType::F32;
  if (name == "BFloat16Storage") return DType::BF16;
  if (name == "HalfStorage") return DType::F16;
  if (name == "LongStorage") return DType::I64;
  if (name == "IntStorage") return DType::I32;
  if (name == "ByteStorage") return DType::U8;
  if (name == "BoolStorage") return DType::Bool;
  return std::nullopt;
}

class Unpickler {
 public:
  Unpickler(std::string_view data, const std::string& what) : d_(data), what_(what) {}

  ValuePtr run() {
    while (true) {
      const size_t at = pos_;
      const auto op = static_cast<unsigned char>(take(1)[0]);
      if (op == '.') break;
      step(op, at);
    }
    SV_CHECK_AS(CheckpointError, stack_.size() == 1 && marks_.empty(),
                "{}: malformed pickle (stack holds {} values at STOP)", what_, stack_.size());
    return stack_.back();
  }

 private:
  [[noreturn]] void refuse(size_t at, const std::string& why) const {
    throw CheckpointError(fmt::format(
        "{}: refusing to load: {} (byte {} of its pickle); only tensor state dicts are "
        "accepted and nothing in the file was executed",
        what_, why, at));
  }

  std::string_view take(size_t n) {
    if (n > d_.size() - pos_) {
      throw CheckpointError(fmt::format("{}: pickle ends early (truncated file?)", what_));
    }
    const std::string_view s = d_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint64_t take_le(size_t n) {
    const std::string_view s = take(n);
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
  }
  std::string take_line() {
    const size_t nl = d_.find('\n', pos_);
    if (nl == std::string_view::npos) take(d_.size() - pos_ + 1);  // throws
    std::string s(d_.substr(pos_, nl - pos_));
    pos_ = nl + 1;
    return s;
  }

  ValuePtr pop(size_t at) {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      refuse(at, "malformed pickle (pop from an empty stack)");
    }
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  std::vector<ValuePtr> pop_mark(size_t at) {
    if (marks_.empty()) refuse(at, "malformed pickle (no MARK)");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  ValuePtr& top(size_t at) {
    if (stack_.empty()) refuse(at, "malformed pickle (empty stack)");
    return stack_.back();
  }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }

  ValuePtr tuple(std::vector<ValuePtr> items, size_t at) {
    int depth = 0;
    for (const auto& i : items) depth = std::max(depth, i->depth + 1);
    if (depth > kMaxDepth) refuse(at, "nesting deeper than a state dict has");
    return make(Sequence{std::move(items), true}, depth);
  }
  void grow(Value& container, const ValuePtr& item, size_t at) {
    container.depth = std::max(container.depth, item->depth + 1);
    if (container.depth > kMaxDepth) refuse(at, "nesting deeper than a state dict has");
  }
  void set_items(ValuePtr& target, std::vector<ValuePtr>& kv, size_t at) {
    auto* dict = std::get_if<Dict>(&target->v);
    if (!dict) refuse(at, "SETITEM on something that is not a dict");
    if (kv.size() % 2) refuse(at, "malformed pickle (odd SETITEMS)");
    for (size_t i = 0; i < kv.size(); i += 2) {
      grow(*target, kv[i + 1], at);
      dict->items.emplace_back(kv[i], kv[i + 1]);
    }
  }

  void global(const std::string& module, const std::string& name, size_t at) {
    const std::string full = module + "." + name;
    if (full == "collections.OrderedDict") {
      push(make(GlobalRef{Global::OrderedDict, DType::F32, full}));
    } else if (full == "torch._utils._rebuild_tensor_v2") {
      push(make(GlobalRef{Global::RebuildTensorV2, DType::F32, full}));
    } else if (full == "torch._utils._rebuild_parameter") {
      push(make(GlobalRef{Global::RebuildParameter, DType::F32, full}));
    } else if (module == "torch" && name.ends_with("Storage")) {
      const auto dt = storage_dtype(name);
      if (!dt) {
        throw CheckpointError(fmt::format("{}: tensors stored as torch.{} are not supported "
                                          "(supported: float32, bfloat16, float16, int64, "
                                          "int32, uint8, bool)",
                                          what_, name));
      }
      push(make(GlobalRef{Global::Storage, *dt, full}));
    } else {
      refuse(at, fmt::format("the pickle asks for the global '{}', which a tensor state dict "
                             "never uses",
                             full));
    }
  }

  int64_t as_int(const ValuePtr& v, size_t at, const char* what) {
    if (const auto* i = std::get_if<int64_t>(&v->v)) return *i;
    refuse(at, fmt::format("malformed tensor record ({} is not an integer)", what));
  }
  std::vector<int64_t> as_ints(const ValuePtr& v, size_t at, const char* what) {
    const auto* s = std::get_if<Sequence>(&v->v);
    if (!s) refuse(at, fmt::format("malformed tensor record ({} is not a tuple)", what));
    std::vector<int64_t> out;
    for (const auto& i : s->items) out.push_back(as_int(i, at, what));
    return out;
  }

  void reduce(size_t at) {
    const ValuePtr args = pop(at);
    const ValuePtr fn = pop(at);
    const auto* g = std::get_if<GlobalRef>(&fn->v);
    const auto* a = std::get_if<Sequence>(&args->v);
    if (!g || !a) refuse(at, "REDUCE of something that is not an allowed global");
    switch (g->kind) {
      case Global::OrderedDict: {
        if (!a->items.empty()) refuse(at, "OrderedDict built with arguments");
        push(make(Dict{}));
        return;
      }
      case Global::RebuildTensorV2: {
        if (a->items.size() < 6 || a->items.size() > 7) {
          refuse(at, "_rebuild_tensor_v2 with an unexpected number of arguments");
        }
        const auto* st = std::get_if<StorageRef>(&a->items[0]->v);
        if (!st) refuse(at, "_rebuild_tensor_v2 of something that is not a storage");
        TorchTensorRecord t;
        t.storage_key = st->key;
        t.dtype = st->dtype;
        t.storage_numel = st->numel;
        t.storage_offset = as_int(a->items[1], at, "storage offset");
        t.sizes = as_ints(a->items[2], at, "size");
        t.strides = as_ints(a->items[3], at, "stride");
        if (t.sizes.size() != t.strides.size()) refuse(at, "tensor with sizes and strides of different ranks");
        push(make(std::move(t)));
        return;
      }
      case Global::RebuildParameter: {
        if (a->items.size() != 3 || !std::holds_alternative<TorchTensorRecord>(a->items[0]->v)) {
          refuse(at, "_rebuild_parameter of something that is not a tensor");
        }
        push(a->items[0]);
        return;
      }
      case Global::Storage:
        refuse(at, "a storage type called like a function");
    }
  }

  void persistent_load(size_t at) {
    const ValuePtr pid = pop(at);
    const auto* s = std::get_if<Sequence>(&pid->v);
    if (!s || s->items.size() != 5) refuse(at, "a persistent id that is not a storage record");
    const auto* tag = std::get_if<std::string>(&s->items[0]->v);
    const auto* type = std::get_if<GlobalRef>(&s->items[1]->v);
    const auto* key = std::get_if<std::string>(&s->items[2]->v);
    if (!tag || *tag != "storage" || !type || type->kind != Global::Storage || !key) {
      refuse(at, "a persistent id that is not a storage record");
    }
    const int64_t numel = as_int(s->items[4], at, "storage size");
    if (numel < 0) refuse(at, "a storage of negative size");
    push(make(StorageRef{type->storage_dtype, *key, numel}));
  }

  void step(unsigned char op, size_t at) {
    switch (op) {
      case 0x80: take(1); break;                      // PROTO
      case 0x95: take(8); break;                      // FRAME
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case ')': push(make(Sequence{{}, true})); break;
      case 't': push(tuple(pop_mark(at), at)); break;
      case 0x85: case 0x86: case 0x87: {              // TUPLE1..3
        std::vector<ValuePtr> items(op - 0x84);
        for (size_t i = items.size(); i-- > 0;) items[i] = pop(at);
        push(tuple(std::move(items), at));
        break;
      }
      case ']': push(make(Sequence{})); break;
      case 'l': {
        ValuePtr list = tuple(pop_mark(at), at);
        std::get<Sequence>(list->v).is_tuple = false;
        push(list);
        break;
      }
      case 'a': case 'e': {                           // APPEND, APPENDS
        std::vector<ValuePtr> items;
        if (op == 'a') items.push_back(pop(at)); else items = pop_mark(at);
        ValuePtr& list = top(at);
        auto* seq = std::get_if<Sequence>(&list->v);
        if (!seq || seq->is_tuple) refuse(at, "APPEND to something that is not a list");
        for (auto& i : items) {
          grow(*list, i, at);
          seq->items.push_back(std::move(i));
        }
        break;
      }
      case '}': push(make(Dict{})); break;
      case 'd': {
        std::vector<ValuePtr> kv = pop_mark(at);
        ValuePtr dict = make(Dict{});
        set_items(dict, kv, at);
        push(dict);
        break;
      }
      case 's': case 'u': {                           // SETITEM, SETITEMS
        std::vector<ValuePtr> kv;
        if (op == 's') {
          ValuePtr v = pop(at);
          kv = {pop(at), std::move(v)};
        } else {
          kv = pop_mark(at);
        }
        set_items(top(at), kv, at);
        break;
      }
      case 'N': push(make(std::monostate{})); break;
      case 0x88: push(make(true)); break;
      case 0x89: push(make(false)); break;
      case 'J': push(make(static_cast<int64_t>(static_cast<int32_t>(take_le(4))))); break;
      case 'K': push(make(static_cast<int64_t>(take_le(1)))); break;
      case 'M': push(make(static_cast<int64_t>(take_le(2)))); break;
      case 0x8a: {                                    // LONG1
        const auto n = static_cast<size_t>(take_le(1));
        if (n > 8) refuse(at, "an integer wider than 64 bits");
        uint64_t v = n ? take_le(n) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign
        push(make(static_cast<int64_t>(v)));
        break;
      }
      case 'G': {                                     // BINFLOAT, big-endian
        const std::string_view s = take(8);
        uint64_t bits = 0;
        for (char c : s) bits = (bits << 8) | static_cast<unsigned char>(c);
        double x;
        std::memcpy(&x, &bits, sizeof x);
        push(make(x));
        break;
      }
      case 'X': push(make(std::string(take(take_le(4))))); break;
      case 0x8c: push(make(std::string(take(take_le(1))))); break;
      case 0x8d: push(make(std::string(take(take_le(8))))); break;
      case 'T': push(make(std::string(take(take_le(4))))); break;  // BINSTRING
      case 'U': push(make(std::string(take(take_le(1))))); break;  // SHORT_BINSTRING
      case 'c': {
        const std::string module = take_line();
        global(module, take_line(), at);
        break;
      }
      case 0x93: {                                    // STACK_GLOBAL
        const ValuePtr name = pop(at), module = pop(at);
        const auto* n = std::get_if<std::string>(&name->v);
        const auto* m = std::get_if<std::string>(&module->v);
        if (!n || !m) refuse(at, "STACK_GLOBAL of non-strings");
        global(*m, *n, at);
        break;
      }
      case 'q': memo_[take_le(1)] = top(at); break;
      case 'r': memo_[take_le(4)] = top(at); break;
      case 0x94: memo_[memo_.size()] = top(at); break;  // MEMOIZE
      case 'p': memo_[parse_index(take_line(), at)] = top(at); break;
      case 'h': push(memo(take_le(1), at)); break;
      case 'j': push(memo(take_le(4), at)); break;
      case 'g': push(memo(parse_index(take_line(), at), at)); break;
      case '0': pop(at); break;                       // POP
      case '1': pop_mark(at); break;                  // POP_MARK
      case '2': push(top(at)); break;                 // DUP
      case 'R': reduce(at); break;
      case 'Q': persistent_load(at); break;
      case 'b': {                                     // BUILD
        const ValuePtr state = pop(at);
        // OrderedDict state is its __dict__ (a state dict's _metadata): unused.
        if (!std::holds_alternative<Dict>(top(at)->v)) refuse(at, "BUILD of something not a dict");
        if (!std::holds_alternative<Dict>(state->v) &&
            !std::holds_alternative<std::monostate>(state->v)) {
          refuse(at, "BUILD with a state that is not a dict");
        }
        break;
      }
      default:
        refuse(at, fmt::format("the pickle uses opcode 0x{:02x}, which a tensor state dict "
                               "never needs",
                               op));
    }
  }

  uint64_t parse_index(const std::string& s, size_t at) {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
      refuse(at, "malformed memo index");
    }
    return std::stoull(s);
  }
  ValuePtr memo(uint64_t key, size_t at) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) refuse(at, "malformed pickle (unknown memo entry)");
    return it->second;
  }

  std::string_view d_;
  const std::string& what_;
  size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
};

}  // namespace

std::vector<std::pair<std::string, TorchTensorRecord>> unpickle_state_dict(
    std::string_view pickle, const std::string& what) {
  Unpickler u(pickle, what);
  const ValuePtr root = u.run();
  const auto* dict = std::get_if<Dict>(&root->v);
  SV_CHECK_AS(CheckpointError, dict != nullptr,
              "{}: the pickle is not a state dict (its top level is not a dict)", what);
  std::vector<std::pair<std::string, TorchTensorRecord>> out;
  for (const auto& [k, v] : dict->items) {
    const auto* name = std::get_if<std::string>(&k->v);
    SV_CHECK_AS(CheckpointError, name != nullptr, "{}: a state dict key is not a string", what);
    const auto* t = std::get_if<TorchTensorRecord>(&v->v);
    SV_CHECK_AS(CheckpointError, t != nullptr,
                "{}: state dict entry '{}' is not a tensor (nested dicts are not supported)",
                what, *name);
    out.emplace_back(*name, *t);
  }
  return out;
}

}  // namespace sv::io
