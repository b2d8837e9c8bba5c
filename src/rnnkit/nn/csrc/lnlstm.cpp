// The layer-normalised LSTM recurrence of one layer and direction, forward and hand-derived backward, with the
// element-wise and norm work of a step fused into one loop per batch row (rnnkit/nn/lnlstm_native.py compiles it
// on first use with torch.utils.cpp_extension.load and calls it from an autograd Function).
//
// Forward, t = 1..T, given p_t = W_ih x_t of all steps (one matrix product before, by the caller):
//
//     x_t = gamma_ih * phat_t + beta_ih                   phat_t = (p_t - mean(p_t)) / std(p_t)  (LN over 4H)
//     u_t = W_hh h_{t-1}                                  (B, 4H): one matrix product per step (at::mm, BLAS)
//     a_t = x_t + gamma_hh * uhat_t + beta_hh             uhat_t = (u_t - mean(u_t)) / std(u_t)
//     i, f, o = sigma(a_i), sigma(a_f), sigma(a_o)        g = tanh(a_g)
//     c_t = f c_{t-1} + i g                               h_t = o tanh(gamma_c * chat_t + beta_c)
//
// (without gamma_ih, the caller has normalised already: x_t = p_t.) Backward, with dh the gradient reaching h_t
// (from step t+1 and from the output) and dc the one reaching c_t from step t+1, and
// LN'(dy) = rstd * (dy gamma - mean(dy gamma) - xhat mean(dy gamma xhat)) a norm's input gradient (biased
// variance, as torch's layer_norm):
//
//     da_o = dh tanh(LN(c_t)) o (1 - o)        dn = dh o (1 - tanh(LN(c_t))^2)
//     dc  += LN'_c(dn)
//     da_i = dc g i (1 - i)   da_f = dc c_{t-1} f (1 - f)   da_g = dc i (1 - g^2)   dc_{t-1} = dc f
//     du_t = LN'_hh(da_t)     dh_{t-1} = W_hh^T du_t (+ the output gradient at t-1)
//     dL/dp_t = LN'_ih(da_t)  (dL/dx_t = da_t without the input norm)
//     dgamma_ih += da phat    dgamma_hh += da uhat    dbeta_ih = dbeta_hh += da    dgamma_c += dn chat   dbeta_c += dn
//     dW_hh = sum_t du_t^T h_{t-1}                       (one matrix product after the loop)
//
// Variable lengths: at a step t >= ragged_from where mask[t, b] is false, row b keeps its state (h_t = h_{t-1},
// c_t = c_{t-1}) and outputs 0; its gradients pass through that step unchanged.
//
// Why by hand: as eager torch ops a step is ~23 kernels on (B, 4H) rows, each reading and writing memory; here the
// row stays in L1 while it is normalised, activated and differentiated. The matrix products stay with BLAS.
// Saved for the backward pass: uhat, the activations, c and h of every step, and per row the norms' moments;
// phat, chat and tanh(LN(c)) are recomputed there (one pass over a row in cache costs less than writing and
// reading back (T, B, 4H) or (T, B, H) buffers).

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <mutex>
#include <vector>

namespace {

#if defined(__GNUC__)
#define RNNKIT_INLINE inline __attribute__((always_inline))
#else
#define RNNKIT_INLINE inline
#endif

// float32: exp by range reduction and a degree-6 polynomial (Cephes' expf, ~1 ulp), written with arithmetic and
// integer casts only so that the compiler vectorises the loops that call it (std::exp stays a scalar call).
RNNKIT_INLINE float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 87.0f ? 87.0f : x);  // 2^n and 1 / (1 + exp(87)) stay normal floats
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2), no libm call
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // x - n ln 2 in two parts (exact first product)
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

RNNKIT_INLINE float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

// tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|); near 0 that difference loses digits, so |x| < 1/16 takes
// the odd Taylor series to x^7 (next term < 4e-13 relative).
RNNKIT_INLINE float tanh_approx(float x) {
  const float a = x < 0.0f ? -x : x;
  const float e = exp_approx(-2.0f * a);
  const float large = (1.0f - e) / (1.0f + e);
  const float s = a * a;
  const float small = a * (1.0f + s * (-0.333333333f + s * (0.133333333f + s * -0.0539682540f)));
  const float y = a < 0.0625f ? small : large;
  return x < 0.0f ? -y : y;
}

// float64 (the tests' reference precision): the library functions
RNNKIT_INLINE double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
RNNKIT_INLINE double tanh_approx(double x) { return std::tanh(x); }

// mean and 1/std of n values, two passes (the row is in L1), biased variance as torch's layer_norm
template <typename S>
RNNKIT_INLINE void moments(const S* x, int64_t n, double eps, S& mean, S& rstd) {
  S sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t k = 0; k < n; ++k) sum += x[k];
  mean = sum / static_cast<S>(n);
  S squares = 0;
#pragma omp simd reduction(+ : squares)
  for (int64_t k = 0; k < n; ++k) {
    const S d = x[k] - mean;
    squares += d * d;
  }
  rstd = static_cast<S>(1.0 / std::sqrt(static_cast<double>(squares / static_cast<S>(n)) + eps));
}

// Memory for the large buffers, (T, B, 4H) and (T, B, H), kept for reuse when their tensors are freed.
// torch's CPU allocator hands each large tensor a fresh mapping, and the kernel would take one page fault per
// 4 KB while it writes the buffer (~100 MB a training step at H 256, B 64, T 100); a training loop asks for the
// same sizes every step, so a freed block of the same size is taken again. At most kPoolBytes are kept; the pool
// is never destroyed (a tensor freed at interpreter exit still finds it).
class Pool {
 public:
  static constexpr size_t kPoolBytes = size_t(1) << 30;

  at::Tensor empty(at::IntArrayRef sizes, const at::TensorOptions& options) {
    int64_t numel = 1;
    for (const int64_t size : sizes) numel *= size;
    const size_t bytes = std::max<size_t>(1, static_cast<size_t>(numel) * options.dtype().itemsize());
    void* block = take(bytes);
    if (!block) block = allocate(bytes);
    return at::from_blob(block, sizes, [this, bytes](void* data) { give_back(data, bytes); }, options);
  }

 private:
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = blocks_.begin(); it != blocks_.end(); ++it) {
      if (it->first == bytes) {
        void* block = it->second;
        blocks_.erase(it);
        kept_ -= bytes;
        return block;
      }
    }
    return nullptr;
  }

  void give_back(void* block, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (kept_ + bytes <= kPoolBytes) {
        blocks_.emplace_back(bytes, block);
        kept_ += bytes;
        return;
      }
    }
    release(block);
  }

  static void* allocate(size_t bytes) {  // 64-byte aligned, as torch's own CPU tensors
    void* block = nullptr;
#if defined(_WIN32)
    block = _aligned_malloc(bytes, 64);
#else
    if (posix_memalign(&block, 64, bytes) != 0) block = nullptr;
#endif
    if (!block) throw std::bad_alloc();
    return block;
  }

  static void release(void* block) {
#if defined(_WIN32)
    _aligned_free(block);
#else
    std::free(block);
#endif
  }

  std::mutex mutex_;
  std::vector<std::pair<size_t, void*>> blocks_;
  size_t kept_ = 0;
};

Pool& pool() {
  static Pool* shared = new Pool();
  return *shared;
}

// Rows are split into at most one chunk per thread, each with its own parameter-gradient sums (they stay in L1
// while all the chunk's rows add to them); chunk c always holds the same rows, so for a given thread count the
// sums do not depend on scheduling.
struct Chunks {
  int64_t count, rows;
  Chunks(int64_t batch_size, int64_t row_size) {
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, row_size));  // ~16k elements a chunk
    count = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), (batch_size + grain - 1) / grain));
    rows = (batch_size + count - 1) / count;
  }
  template <typename F>
  void run(int64_t batch_size, const F& body) const {
    at::parallel_for(0, count, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) body(c, c * rows, std::min(batch_size, (c + 1) * rows));
    });
  }
};

// per row, in the (rows, B, 8) statistics buffer
enum Slot { RSTD_U = 0, MEAN_C = 1, RSTD_C = 2, MEAN_P = 3, RSTD_P = 4, SLOTS = 8 };

template <typename S>
struct Forward {
  const S *p, *gamma_ih, *beta_ih, *gamma_hh, *beta_hh, *gamma_c, *beta_c;
  const bool* mask;
  S *states, *outputs, *cells, *normed_u, *activations, *stats;
  int64_t B, G, H, ragged_from;
  double eps;

  // one row b of step t; r indexes the saved buffers (t, or 0 when nothing is kept)
  RNNKIT_INLINE void row(int64_t t, int64_t r, int64_t b, const S* h_previous) const {
    S* ub = normed_u + (r * B + b) * G;  // u_t, normalised in place (the backward reads the normalised values)
    S* a = activations + (r * B + b) * G;
    S* st = stats + (r * B + b) * SLOTS;
    const S* pb = p + (t * B + b) * G;
    const S* c_previous = cells + (t * B + b) * H;
    S* c = cells + ((t + 1) * B + b) * H;
    S* hb = states + (t * B + b) * H;
    if (mask && t >= ragged_from && !mask[t * B + b]) {  // the sequence has ended: it carries its state, outputs 0
      std::memcpy(c, c_previous, H * sizeof(S));
      std::memcpy(hb, h_previous + b * H, H * sizeof(S));
      std::memset(outputs + (t * B + b) * H, 0, H * sizeof(S));
      return;
    }
    S mean_p = 0, rstd_p = 1;
    if (gamma_ih) moments(pb, G, eps, mean_p, rstd_p);
    st[MEAN_P] = mean_p;
    st[RSTD_P] = rstd_p;
    S mean_u, rstd_u;
    moments(ub, G, eps, mean_u, rstd_u);
    st[RSTD_U] = rstd_u;
    if (gamma_ih) {
#pragma omp simd
      for (int64_t k = 0; k < G; ++k) {
        const S uhat = (ub[k] - mean_u) * rstd_u;
        ub[k] = uhat;
        a[k] = gamma_ih[k] * ((pb[k] - mean_p) * rstd_p) + (beta_ih ? beta_ih[k] : S(0)) + gamma_hh[k] * uhat +
               (beta_hh ? beta_hh[k] : S(0));  // a_t
      }
    } else {
#pragma omp simd
      for (int64_t k = 0; k < G; ++k) {
        const S uhat = (ub[k] - mean_u) * rstd_u;
        ub[k] = uhat;
        a[k] = pb[k] + gamma_hh[k] * uhat + (beta_hh ? beta_hh[k] : S(0));  // a_t, x_t given
      }
    }
#pragma omp simd
    for (int64_t k = 0; k < 2 * H; ++k) a[k] = sigmoid(a[k]);  // i, f
#pragma omp simd
    for (int64_t k = 2 * H; k < 3 * H; ++k) a[k] = tanh_approx(a[k]);  // g
#pragma omp simd
    for (int64_t k = 3 * H; k < G; ++k) a[k] = sigmoid(a[k]);  // o
    const S *i = a, *f = a + H, *g = a + 2 * H, *o = a + 3 * H;
#pragma omp simd
    for (int64_t k = 0; k < H; ++k) c[k] = f[k] * c_previous[k] + i[k] * g[k];  // c_t
    S mean_c, rstd_c;
    moments(c, H, eps, mean_c, rstd_c);
    st[MEAN_C] = mean_c;
    st[RSTD_C] = rstd_c;
#pragma omp simd
    for (int64_t k = 0; k < H; ++k) {
      hb[k] = o[k] * tanh_approx(gamma_c[k] * ((c[k] - mean_c) * rstd_c) + (beta_c ? beta_c[k] : S(0)));  // h_t
    }
    if (outputs != states) std::memcpy(outputs + (t * B + b) * H, hb, H * sizeof(S));
  }
};

template <typename S>
const S* optional_data(const at::Tensor& tensor) {
  return tensor.numel() ? tensor.data_ptr<S>() : nullptr;
}

// p (T, B, 4H): W_ih x_t, or x_t itself when gamma_ih is empty; weight_hh (4H, H); gamma_ih, beta_ih, gamma_hh,
// beta_hh (4H); gamma_c, beta_c (H) (an empty tensor stands for a missing beta, or for no input norm);
// h0, c0 (B, H); mask (T, B) bool or empty -> [outputs (T, B, H), h_T, c_T] and, with keep, what the backward
// reads: [stats (T, B, 8), normalised u (T, B, 4H), activations i f g o (T, B, 4H), cells c_0..c_T (T+1, B, H),
// states h_1..h_T (T, B, H)]
std::vector<at::Tensor> lnlstm_forward(const at::Tensor& p_in, const at::Tensor& gamma_ih, const at::Tensor& beta_ih,
                                       const at::Tensor& weight_hh, const at::Tensor& gamma_hh,
                                       const at::Tensor& beta_hh, const at::Tensor& gamma_c,
                                       const at::Tensor& beta_c, const at::Tensor& h0, const at::Tensor& c0,
                                       const at::Tensor& mask_in, int64_t ragged_from, double eps, bool keep) {
  TORCH_CHECK(p_in.dim() == 3 && p_in.size(2) % 4 == 0, "lnlstm_forward: the projections must be (T, B, 4H)");
  TORCH_CHECK(p_in.device().is_cpu(), "lnlstm_forward: CPU tensors only");
  const at::Tensor p = p_in.contiguous();
  const int64_t T = p.size(0), B = p.size(1), G = p.size(2), H = G / 4, rows = keep ? T : 1;
  const auto options = p.options();
  at::Tensor states = pool().empty({T, B, H}, options);
  at::Tensor outputs = mask_in.numel() ? pool().empty({T, B, H}, options) : states;
  at::Tensor cells = pool().empty({T + 1, B, H}, options);
  cells[0].copy_(c0);
  at::Tensor normed_u = pool().empty({rows, B, G}, options), activations = pool().empty({rows, B, G}, options);
  at::Tensor stats = at::empty({rows, B, SLOTS}, options);
  // W_hh^T (H, 4H) laid out once per call: the per-step product reads it as a plain row-major matrix (a few
  // percent faster than BLAS reading the transposed view, measured at H 256)
  const at::Tensor mask = mask_in.contiguous(), weight_t = weight_hh.t().contiguous();
  const at::Tensor gih = gamma_ih.contiguous(), bih = beta_ih.contiguous(), ghh = gamma_hh.contiguous();
  const at::Tensor bhh = beta_hh.contiguous(), gc = gamma_c.contiguous(), bc = beta_c.contiguous();
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "lnlstm_forward", [&] {
    using S = scalar_t;
    const Forward<S> step{p.data_ptr<S>(), optional_data<S>(gih), optional_data<S>(bih), ghh.data_ptr<S>(),
                          optional_data<S>(bhh), gc.data_ptr<S>(), optional_data<S>(bc),
                          mask.numel() ? mask.data_ptr<bool>() : nullptr, states.data_ptr<S>(),
                          outputs.data_ptr<S>(), cells.data_ptr<S>(), normed_u.data_ptr<S>(),
                          activations.data_ptr<S>(), stats.data_ptr<S>(), B, G, H, ragged_from, eps};
    const Chunks chunks(B, G);
    at::Tensor h = h0.contiguous();
    for (int64_t t = 0; t < T; ++t) {
      const int64_t r = keep ? t : 0;  // without a backward pass one row of each saved buffer is reused
      at::Tensor u = normed_u[r];
      at::mm_out(u, h, weight_t);  // u_t = W_hh h_{t-1}  (B, 4H)
      const S* h_previous = h.data_ptr<S>();
      chunks.run(B, [&](int64_t, int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) step.row(t, r, b, h_previous);
      });
      h = states[t];
    }
  });
  std::vector<at::Tensor> result{outputs, states[T - 1].clone(), cells[T].clone()};
  if (keep) {
    for (const auto& saved : {stats, normed_u, activations, cells, states}) result.push_back(saved);
  }
  return result;
}

template <typename S>
struct Backward {
  const S *grad_outputs;
  int64_t grad_step, grad_row;  // the output gradient's strides over t and b (rows of H are contiguous)
  const S *p, *gamma_ih, *gamma_hh, *gamma_c, *beta_c, *stats, *normed_u, *activations, *cells;
  const bool* mask;
  S *grad_p, *grad_u, *dc, *carried, *scratch, *sums;
  int64_t B, G, H, ragged_from, sums_width;

  // one row b of step t, given dh_b (from step t+1); parameter-gradient sums of the row's chunk
  RNNKIT_INLINE void row(int64_t t, int64_t b, int64_t chunk, const S* dh_b) const {
    S* da = grad_p + (t * B + b) * G;  // da_t, then (with the input norm) dL/dp_t in place
    S* du = grad_u + (t * B + b) * G;
    const bool ragged = mask && t >= ragged_from;  // a step where some sequences have ended: carried is read
    if (ragged && !mask[t * B + b]) {  // h_t = h_{t-1}, c_t = c_{t-1}: the gradients pass through
      std::memset(da, 0, G * sizeof(S));
      std::memset(du, 0, G * sizeof(S));
      std::memcpy(carried + b * H, dh_b, H * sizeof(S));
      return;
    }
    if (ragged) std::memset(carried + b * H, 0, H * sizeof(S));
    const S* a = activations + (t * B + b) * G;
    const S *i = a, *f = a + H, *g = a + 2 * H, *o = a + 3 * H;
    const S* go = grad_outputs + t * grad_step + b * grad_row;
    const S* c = cells + ((t + 1) * B + b) * H;
    const S* c_previous = cells + (t * B + b) * H;
    const S* st = stats + (t * B + b) * SLOTS;
    S* dn = scratch + b * 2 * H;  // dn, then chat
    S* chat = dn + H;
    S* dc_b = dc + b * H;
    S* sum = sums + chunk * sums_width;
    S *dgamma_hh = sum, *dbeta = sum + G, *dgamma_ih = sum + 2 * G, *dgamma_c = sum + 3 * G;
    S* dbeta_c = dgamma_c + H;
    const S mean_c = st[MEAN_C], rstd_c = st[RSTD_C];
    S s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
    for (int64_t k = 0; k < H; ++k) {
      const S x = (c[k] - mean_c) * rstd_c;  // chat, recomputed
      chat[k] = x;
      const S tc = tanh_approx(gamma_c[k] * x + (beta_c ? beta_c[k] : S(0)));  // tanh(LN(c_t)), recomputed
      const S dhk = dh_b[k] + go[k];  // from step t+1 and from the output at t
      const S ok = o[k];
      da[3 * H + k] = dhk * tc * ok * (S(1) - ok);  // da_o
      const S dnk = dhk * ok * (S(1) - tc * tc);  // reaches LN(c_t)
      dn[k] = dnk;
      const S dy = dnk * gamma_c[k];
      s1 += dy;
      s2 += dy * x;
    }
    const S mean_dy = s1 / static_cast<S>(H), mean_dyx = s2 / static_cast<S>(H);
#pragma omp simd
    for (int64_t k = 0; k < H; ++k) {
      const S dnk = dn[k];
      dgamma_c[k] += dnk * chat[k];
      dbeta_c[k] += dnk;
      const S dck = dc_b[k] + rstd_c * (dnk * gamma_c[k] - mean_dy - chat[k] * mean_dyx);  // dc_t + LN'_c(dn)
      const S ik = i[k], fk = f[k], gk = g[k];
      da[k] = dck * gk * ik * (S(1) - ik);  // da_i
      da[H + k] = dck * c_previous[k] * fk * (S(1) - fk);  // da_f
      da[2 * H + k] = dck * ik * (S(1) - gk * gk);  // da_g
      dc_b[k] = dck * fk;  // dc_{t-1}
    }
    const S* uhat = normed_u + (t * B + b) * G;
    const S rstd_u = st[RSTD_U];
    S t1 = 0, t2 = 0;
    if (!gamma_ih) {  // x_t was given: dL/dx_t = da_t stays
#pragma omp simd reduction(+ : t1, t2)
      for (int64_t k = 0; k < G; ++k) {
        const S dy = da[k] * gamma_hh[k];
        t1 += dy;
        t2 += dy * uhat[k];
      }
      const S mean_1 = t1 / static_cast<S>(G), mean_2 = t2 / static_cast<S>(G);
#pragma omp simd
      for (int64_t k = 0; k < G; ++k) {
        const S dak = da[k];
        dgamma_hh[k] += dak * uhat[k];
        dbeta[k] += dak;
        du[k] = rstd_u * (dak * gamma_hh[k] - mean_1 - uhat[k] * mean_2);  // du_t = LN'_hh(da_t)
      }
      return;
    }
    const S* pb = p + (t * B + b) * G;
    const S mean_p = st[MEAN_P], rstd_p = st[RSTD_P];
    S q1 = 0, q2 = 0;
#pragma omp simd reduction(+ : t1, t2, q1, q2)
    for (int64_t k = 0; k < G; ++k) {  // both norms' sums in one pass over da_t
      const S dy = da[k] * gamma_hh[k], dz = da[k] * gamma_ih[k];
      t1 += dy;
      t2 += dy * uhat[k];
      q1 += dz;
      q2 += dz * ((pb[k] - mean_p) * rstd_p);
    }
    const S mean_1 = t1 / static_cast<S>(G), mean_2 = t2 / static_cast<S>(G);
    const S mean_3 = q1 / static_cast<S>(G), mean_4 = q2 / static_cast<S>(G);
#pragma omp simd
    for (int64_t k = 0; k < G; ++k) {
      const S dak = da[k], phat = (pb[k] - mean_p) * rstd_p;
      dgamma_hh[k] += dak * uhat[k];
      dgamma_ih[k] += dak * phat;
      dbeta[k] += dak;
      du[k] = rstd_u * (dak * gamma_hh[k] - mean_1 - uhat[k] * mean_2);  // du_t = LN'_hh(da_t)
      da[k] = rstd_p * (dak * gamma_ih[k] - mean_3 - phat * mean_4);  // dL/dp_t = LN'_ih(da_t)
    }
  }
};

// grad_outputs (T, B, H), grad_h, grad_c (B, H), then the forward's inputs and saved tensors ->
// [dp (T, B, 4H) (dx without the input norm), dW_hh (4H, H) or empty, dgamma_ih, dbeta_ih (4H) or empty,
//  dgamma_hh, dbeta_hh (4H), dgamma_c, dbeta_c (H), dh_0, dc_0 (B, H)]
std::vector<at::Tensor> lnlstm_backward(const at::Tensor& grad_outputs_in, const at::Tensor& grad_h,
                                        const at::Tensor& grad_c, const at::Tensor& p_in, const at::Tensor& gamma_ih,
                                        const at::Tensor& weight_hh_in, const at::Tensor& gamma_hh,
                                        const at::Tensor& gamma_c, const at::Tensor& beta_c, const at::Tensor& h0,
                                        const at::Tensor& mask_in, int64_t ragged_from, const at::Tensor& stats,
                                        const at::Tensor& normed_u, const at::Tensor& activations,
                                        const at::Tensor& cells, const at::Tensor& states, bool weight_grad) {
  const int64_t T = normed_u.size(0), B = normed_u.size(1), G = normed_u.size(2), H = G / 4;
  const auto options = normed_u.options();
  // read where it lies when its rows are contiguous (a batch-first layer's gradient arrives as a transposed view)
  const at::Tensor grad_outputs = grad_outputs_in.stride(2) == 1 ? grad_outputs_in : grad_outputs_in.contiguous();
  const at::Tensor weight_hh = weight_hh_in.contiguous();
  const at::Tensor p = p_in.contiguous(), mask = mask_in.contiguous(), gih = gamma_ih.contiguous();
  const at::Tensor ghh = gamma_hh.contiguous(), gc = gamma_c.contiguous(), bc = beta_c.contiguous();
  const bool input_norm = gamma_ih.numel() > 0;
  at::Tensor grad_p = pool().empty({T, B, G}, options), grad_u = pool().empty({T, B, G}, options);
  at::Tensor dh = grad_h.to(options, false, true).contiguous(), dh_next = at::empty({B, H}, options);
  at::Tensor dc = grad_c.to(options, false, true).contiguous();
  at::Tensor carried = at::empty({B, H}, options), scratch = at::empty({B, 2 * H}, options);
  const Chunks chunks(B, G);
  const int64_t sums_width = 3 * G + 2 * H;  // dgamma_hh, dbeta, dgamma_ih (4H each), dgamma_c, dbeta_c (H each)
  at::Tensor sums = at::zeros({chunks.count, sums_width}, options);
  AT_DISPATCH_FLOATING_TYPES(normed_u.scalar_type(), "lnlstm_backward", [&] {
    using S = scalar_t;
    const Backward<S> step{grad_outputs.data_ptr<S>(), grad_outputs.stride(0), grad_outputs.stride(1), input_norm ? p.data_ptr<S>() : nullptr,
                           optional_data<S>(gih), ghh.data_ptr<S>(), gc.data_ptr<S>(), optional_data<S>(bc),
                           stats.data_ptr<S>(), normed_u.data_ptr<S>(), activations.data_ptr<S>(),
                           cells.data_ptr<S>(), mask.numel() ? mask.data_ptr<bool>() : nullptr, grad_p.data_ptr<S>(),
                           grad_u.data_ptr<S>(), dc.data_ptr<S>(), carried.data_ptr<S>(), scratch.data_ptr<S>(),
                           sums.data_ptr<S>(), B, G, H, ragged_from, sums_width};
    for (int64_t t = T - 1; t >= 0; --t) {
      const S* dhs = dh.data_ptr<S>();
      chunks.run(B, [&](int64_t chunk, int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) step.row(t, b, chunk, dhs + b * H);
      });
      // dh_{t-1} = W_hh^T du_t + what a carried state passes on; the output gradient at t-1 is added in the next
      // step's row loop, where the mask is read
      if (mask.numel() && t >= ragged_from) {
        at::addmm_out(dh_next, carried, grad_u[t], weight_hh);
      } else {
        at::mm_out(dh_next, grad_u[t], weight_hh);
      }
      std::swap(dh, dh_next);
    }
  });
  at::Tensor grad_weight = at::empty({0}, options);
  if (weight_grad) {  // sum_t du_t^T h_{t-1}: h_0, then the states h_1 .. h_{T-1}
    const at::Tensor flat = grad_u.view({T * B, G});
    grad_weight = at::mm(flat.narrow(0, 0, B).t(), h0.contiguous());
    if (T > 1) grad_weight.addmm_(flat.narrow(0, B, (T - 1) * B).t(), states.narrow(0, 0, T - 1).reshape({-1, H}));
  }
  const at::Tensor total = sums.sum(0);  // over the chunks, once
  const at::Tensor dbeta = total.narrow(0, G, G), none = at::empty({0}, options);
  return {grad_p, grad_weight, input_norm ? total.narrow(0, 2 * G, G) : none, input_norm ? dbeta : none,
          total.narrow(0, 0, G), dbeta, total.narrow(0, 3 * G, H), total.narrow(0, 3 * G + H, H), dh, dc};
}

}  // namespace

TORCH_LIBRARY(rnnkit_lnlstm, m) {
  m.def("forward(Tensor p, Tensor gamma_ih, Tensor beta_ih, Tensor weight_hh, Tensor gamma_hh, Tensor beta_hh, "
        "Tensor gamma_c, Tensor beta_c, Tensor h0, Tensor c0, Tensor mask, int ragged_from, float eps, bool keep) "
        "-> Tensor[]",
        &lnlstm_forward);
  m.def("backward(Tensor grad_outputs, Tensor grad_h, Tensor grad_c, Tensor p, Tensor gamma_ih, Tensor weight_hh, "
        "Tensor gamma_hh, Tensor gamma_c, Tensor beta_c, Tensor h0, Tensor mask, int ragged_from, Tensor stats, "
        "Tensor normed_u, Tensor activations, Tensor cells, Tensor states, bool weight_grad) -> Tensor[]",
        &lnlstm_backward);
}
