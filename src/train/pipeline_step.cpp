#include "train/pipeline_step.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace sv::train {

std::vector<PipeStep> one_f_one_b_plan(int stages, int stage, int64_t micro_batches) {
  SV_CHECK(stages >= 1 && stage >= 0 && stage < stages && micro_batches >= 1,
           "1F1B plan: stage {} of {}, {} micro-batches", stage, stages, micro_batches);
  // The compute order: warm-up forwards, one forward / one backward, the rest of the backwards.
  const int64_t warmup = std::min<int64_t>(stages - stage - 1, micro_batches);
  std::vector<PipeStep> compute;
  for (int64_t j = 0; j < warmup; ++j) compute.push_back({PipeStep::Kind::Forward, j});
  for (int64_t j = warmup; j < micro_batches; ++j) {
    compute.push_back({PipeStep::Kind::Forward, j});
    compute.push_back({PipeStep::Kind::Backward, j - warmup});
  }
  for (int64_t j = micro_batches - warmup; j < micro_batches; ++j) compute.push_back({PipeStep::Kind::Backward, j});

  // The communication around each compute step: what a step needs is
  // received before it, what it makes is sent after it, paired with the next
  // step's receive when that comes from the same neighbour.
  const bool first = stage == 0, last = stage == stages - 1;
  std::vector<PipeStep> plan;
  bool have_input = false;  // the next compute step's input came with the last send
  for (size_t i = 0; i < compute.size(); ++i) {
    const PipeStep& c = compute[i];
    const PipeStep* next = i + 1 < compute.size() ? &compute[i + 1] : nullptr;
    const bool forward = c.kind == PipeStep::Kind::Forward;
    if (!have_input) {
      if (forward && !first) plan.push_back({PipeStep::Kind::RecvForward, c.micro_batch});
      if (!forward && !last) plan.push_back({PipeStep::Kind::RecvBackward, c.micro_batch});
    }
    plan.push_back(c);
    have_input = false;
    if (forward && !last) {
      if (next && next->kind == PipeStep::Kind::Backward) {
        plan.push_back({PipeStep::Kind::SendForwardRecvBackward, c.micro_batch, next->micro_batch});
        have_input = true;
      } else {
        plan.push_back({PipeStep::Kind::SendForward, c.micro_batch});
      }
    } else if (!forward && !first) {
      if (next && next->kind == PipeStep::Kind::Forward) {
        plan.push_back({PipeStep::Kind::SendBackwardRecvForward, c.micro_batch, next->micro_batch});
        have_input = true;
      } else {
        plan.push_back({PipeStep::Kind::SendBackward, c.micro_batch});
      }
    }
  }
  return plan;
}

namespace {

constexpr int kPipeTag = 71;  // every training message of the pp group (direction tells them apart)

// What one micro-batch holds while it is in the pipeline.
struct InFlight {
  DitInputs inputs;
  Shape boundary;
  std::unique_ptr<DitTrainingPass> pass;
  Tensor input;     // the activation received from the previous stage
  Tensor dy;        // d loss / d output: from the next stage, or (last stage) the loss gradient
  Tensor outgoing;  // this stage's output, or the gradient of its input, until sent
};

Tensor receive_buffer(const Shape& shape) { return Tensor::empty(shape, DType::F32); }

// Sums tensors over the stages (every stage gets the same bits) in one message.
void sum_over_stages(const std::vector<Tensor*>& tensors, Communicator& pp) {
  int64_t n = 0;
  for (const Tensor* t : tensors) n += t->numel();
  std::vector<float> packed(static_cast<size_t>(n));
  float* at = packed.data();
  for (const Tensor* t : tensors) {
    SV_CHECK(t->is_contiguous() && t->dtype() == DType::F32, "pipeline: {} cannot be summed", t->describe());
    std::memcpy(at, t->data<float>(), static_cast<size_t>(t->numel()) * sizeof(float));
    at += t->numel();
  }
  sum_identically(pp, packed);
  at = packed.data();
  for (Tensor* t : tensors) {
    std::memcpy(t->data<float>(), at, static_cast<size_t>(t->numel()) * sizeof(float));
    at += t->numel();
  }
}

void forward(InFlight& f, int64_t j, const StageLoss& stage_loss, bool last_stage, double& loss) {
  const Tensor y = f.pass->forward_stage(f.inputs, f.input);
  f.input = Tensor();
  if (!last_stage) {
    f.outgoing = y.contiguous();
    return;
  }
  LossAndGradient l = stage_loss(j, y);
  loss += l.loss;
  f.dy = l.gradient;
}

}  // namespace

double pipeline_step(const DitModel& model, std::span<const DitBatch> micro_batches, double weight,
                     const DitTrainingOptions& options, Gradients& grads, Communicator& pp) {
  std::vector<DitInputs> inputs;
  std::vector<Tensor> targets;
  for (const DitBatch& b : micro_batches) {
    const FlowMatchingInputs fm = flow_matching_inputs(b.x0, b.noise, b.t);
    inputs.push_back(DitInputs{fm.x_t, b.t, b.encoder_hidden_states, b.encoder_hidden_states_2, b.encoder_attention_mask});
    targets.push_back(fm.target);
  }
  const StageLoss loss = [&](int64_t j, const Tensor& prediction) {
    LossAndGradient l = mse_loss(prediction, targets[static_cast<size_t>(j)]);
    l.loss *= weight;
    float* g = l.gradient.data<float>();
    for (int64_t i = 0; i < l.gradient.numel(); ++i) g[i] = static_cast<float>(g[i] * weight);
    return l;
  };
  return pipeline_step(model, inputs, loss, options, grads, pp);
}

double pipeline_step(const DitModel& model, std::span<const DitInputs> micro_batches, const StageLoss& stage_loss,
                     const DitTrainingOptions& options, Gradients& grads, Communicator& pp) {
  const int stages = pp.size(), stage = pp.rank();
  const bool last_stage = stage == stages - 1;
  const auto count = static_cast<int64_t>(micro_batches.size());
  std::vector<InFlight> mb(micro_batches.size());
  for (size_t j = 0; j < mb.size(); ++j) {
    mb[j].inputs = micro_batches[j];
    mb[j].boundary = DitTrainingPass::stage_boundary_shape(model, mb[j].inputs);
  }
  // Only the last micro-batch's backward completes each block's gradients.
  DitTrainingOptions plain = options;
  plain.block_gradients_done = nullptr;

  double loss = 0.0;
  for (const PipeStep& step : one_f_one_b_plan(stages, stage, count)) {
    InFlight& f = mb[static_cast<size_t>(step.micro_batch)];
    switch (step.kind) {
      case PipeStep::Kind::Forward:
        f.pass = std::make_unique<DitTrainingPass>(model, step.micro_batch == count - 1 ? options : plain);
        forward(f, step.micro_batch, stage_loss, last_stage, loss);
        break;
      case PipeStep::Kind::Backward:
        f.outgoing = f.pass->backward_stage(f.dy, grads);
        if (f.outgoing.defined()) f.outgoing = f.outgoing.contiguous();
        f.dy = Tensor();
        break;
      case PipeStep::Kind::RecvForward:
        f.input = receive_buffer(f.boundary);
        pp.recv(f.input.data<float>(), f.input.numel(), stage - 1, kPipeTag);
        break;
      case PipeStep::Kind::RecvBackward:
        f.dy = receive_buffer(f.boundary);
        pp.recv(f.dy.data<float>(), f.dy.numel(), stage + 1, kPipeTag);
        break;
      case PipeStep::Kind::SendForward:
      case PipeStep::Kind::SendBackward: {
        const int to = step.kind == PipeStep::Kind::SendForward ? stage + 1 : stage - 1;
        pp.send(f.outgoing.data<float>(), f.outgoing.numel(), to, kPipeTag);
        f.outgoing = Tensor();
        break;
      }
      case PipeStep::Kind::SendForwardRecvBackward:
      case PipeStep::Kind::SendBackwardRecvForward: {
        const bool forward_send = step.kind == PipeStep::Kind::SendForwardRecvBackward;
        const int peer = forward_send ? stage + 1 : stage - 1;
        InFlight& r = mb[static_cast<size_t>(step.received)];
        Tensor& into = forward_send ? r.dy : r.input;
        into = receive_buffer(r.boundary);
        pp.send_recv(f.outgoing.data<float>(), f.outgoing.numel(), peer, into.data<float>(), into.numel(), peer,
                     kPipeTag);
        f.outgoing = Tensor();
        break;
      }
    }
  }

  // The pipeline has drained: the conditioning's input gradients, then the
  // edge parameters' gradients, summed over the stages.
  std::vector<Tensor*> conditioning;
  for (InFlight& f : mb) {
    for (Tensor* t : f.pass->conditioning_input_gradients()) conditioning.push_back(t);
  }
  sum_over_stages(conditioning, pp);
  for (InFlight& f : mb) f.pass->backward_conditioning(grads);
  std::vector<Tensor*> edge;
  for (const Parameter* p : DitTrainingPass::stage_edge_parameters(model)) edge.push_back(&grads.of(*p));
  sum_over_stages(edge, pp);
  return loss;
}

}  // namespace sv::train
