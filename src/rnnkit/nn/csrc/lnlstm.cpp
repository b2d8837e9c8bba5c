// The layer-normalised LSTM recurrence of one layer and direction, forward and hand-derived backward, with the
// element-wise and norm work of a step fused into one loop per batch row (rnnkit/nn/lnlstm_native.py compiles it
// on first use with torch.utils.cpp_extension.load and calls it from an autograd Function).
//
// Forward, t = 1..T, x_t = LN(W_ih x_t; gamma_ih, beta_ih) given (computed before, for all steps at once):
//
//     u_t = W_hh h_{t-1}                                  (B, 4H): one matrix product per step (at::mm, BLAS)
//     a_t = x_t + gamma_hh * uhat_t + beta_hh             uhat_t = (u_t - mean(u_t)) / std(u_t)
//     i, f, o = sigma(a_i), sigma(a_f), sigma(a_o)        g = tanh(a_g)
//     c_t = f c_{t-1} + i g                               h_t = o tanh(gamma_c * chat_t + beta_c)
//
// Backward, with dh the gradient reaching h_t (from step t+1 and from the output) and dc the one reaching c_t
// from step t+1, and LN'(dy) = rstd * (dy gamma - mean(dy gamma) - xhat mean(dy gamma xhat)) the norm's input
// gradient (biased variance, as torch's layer_norm):
//
//     da_o = dh tanh(LN(c_t)) o (1 - o)        dn = dh o (1 - tanh(LN(c_t))^2)
//     dc  += LN'_c(dn)
//     da_i = dc g i (1 - i)   da_f = dc c_{t-1} f (1 - f)   da_g = dc i (1 - g^2)   dc_{t-1} = dc f
//     dL/dx_t = da_t          du_t = LN'_hh(da_t)            dh_{t-1} = W_hh^T du_t (+ output gradient)
//     dgamma_hh += da uhat    dbeta_hh += da                 dgamma_c += dn chat      dbeta_c += dn
//     dW_hh = sum_t du_t^T h_{t-1}                           (one matrix product after the loop)
//
// Variable lengths: at a step t >= ragged_from where mask[t, b] is false, row b keeps its state (h_t = h_{t-1},
// c_t = c_{t-1}) and outputs 0; its gradients pass through that step unchanged.
//
// Why by hand: as eager torch ops a step is ~23 kernels on (B, 4H) rows, each reading and writing memory; here the
// row stays in L1 while it is normalised, activated and differentiated. The matrix products stay with BLAS.
// The norm-parameter gradients are summed per batch row over time (a (B, 4H) accumulator that stays in cache)
// and over rows once at the end, so the result does not depend on how rows are split between threads.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <cstring>
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
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);  // 2^n stays a normal float
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
template <typename T>
RNNKIT_INLINE void moments(const T* x, int64_t n, double eps, T& mean, T& rstd) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t k = 0; k < n; ++k) sum += x[k];
  mean = sum / static_cast<T>(n);
  T squares = 0;
#pragma omp simd reduction(+ : squares)
  for (int64_t k = 0; k < n; ++k) {
    const T d = x[k] - mean;
    squares += d * d;
  }
  rstd = static_cast<T>(1.0 / std::sqrt(static_cast<double>(squares / static_cast<T>(n)) + eps));
}

// rows per parallel chunk: a chunk of ~16k elements outweighs the cost of handing it to another thread
int64_t grain_for(int64_t row_size) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, row_size)); }

template <typename T>
void forward_loop(const at::Tensor& x, const at::Tensor& weight_hh, const at::Tensor& gamma_hh,
                  const at::Tensor& beta_hh, const at::Tensor& gamma_c, const at::Tensor& beta_c,
                  const at::Tensor& h0, const at::Tensor& mask, int64_t ragged_from, double eps, bool keep,
                  at::Tensor& states, at::Tensor& outputs, at::Tensor& cells, at::Tensor& normed_u,
                  at::Tensor& rstd_u, at::Tensor& activations, at::Tensor& normed_c, at::Tensor& rstd_c,
                  at::Tensor& tanh_c) {
  const int64_t steps = x.size(0), B = x.size(1), G = x.size(2), H = G / 4;
  const bool has_mask = mask.numel() > 0, has_bias_hh = beta_hh.numel() > 0, has_bias_c = beta_c.numel() > 0;
  const T* xs = x.data_ptr<T>();
  const T* gh = gamma_hh.data_ptr<T>();
  const T* bh = has_bias_hh ? beta_hh.data_ptr<T>() : nullptr;
  const T* gc = gamma_c.data_ptr<T>();
  const T* bc = has_bias_c ? beta_c.data_ptr<T>() : nullptr;
  const bool* ms = has_mask ? mask.data_ptr<bool>() : nullptr;
  T* hs = states.data_ptr<T>();
  T* out = outputs.data_ptr<T>();
  T* cs = cells.data_ptr<T>();
  T* us = normed_u.data_ptr<T>();
  T* rus = rstd_u.data_ptr<T>();
  T* as = activations.data_ptr<T>();
  T* ncs = normed_c.data_ptr<T>();
  T* rcs = rstd_c.data_ptr<T>();
  T* tcs = tanh_c.data_ptr<T>();
  const bool separate_outputs = out != hs;
  const at::Tensor weight_t = weight_hh.t();  // (H, 4H): a transposed view, BLAS reads it as it is
  at::Tensor h = h0;
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t r = keep ? t : 0;  // without a backward pass one row of each saved buffer is reused
    at::Tensor u = normed_u[r];
    at::mm_out(u, h, weight_t);  // u_t = W_hh h_{t-1}  (B, 4H)
    const T* h_previous = h.data_ptr<T>();
    at::parallel_for(0, B, grain_for(G), [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        T* ub = us + (r * B + b) * G;  // u_t, normalised in place (the backward reads the normalised values)
        T* a = as + (r * B + b) * G;
        const T* xb = xs + (t * B + b) * G;
        const T* c_previous = cs + (t * B + b) * H;
        T* c = cs + ((t + 1) * B + b) * H;
        T* hb = hs + (t * B + b) * H;
        const bool active = !(ms && t >= ragged_from && !ms[t * B + b]);
        if (!active) {  // the sequence has ended: it carries its state, outputs 0
          std::memcpy(c, c_previous, H * sizeof(T));
          std::memcpy(hb, h_previous + b * H, H * sizeof(T));
          if (separate_outputs) std::memset(out + (t * B + b) * H, 0, H * sizeof(T));
          continue;
        }
        T mean, rstd;
        moments(ub, G, eps, mean, rstd);
        rus[r * B + b] = rstd;
#pragma omp simd
        for (int64_t k = 0; k < G; ++k) {
          const T uhat = (ub[k] - mean) * rstd;
          ub[k] = uhat;
          a[k] = xb[k] + gh[k] * uhat + (bh ? bh[k] : T(0));  // a_t
        }
#pragma omp simd
        for (int64_t k = 0; k < 2 * H; ++k) a[k] = sigmoid(a[k]);  // i, f
#pragma omp simd
        for (int64_t k = 2 * H; k < 3 * H; ++k) a[k] = tanh_approx(a[k]);  // g
#pragma omp simd
        for (int64_t k = 3 * H; k < G; ++k) a[k] = sigmoid(a[k]);  // o
        const T *i = a, *f = a + H, *g = a + 2 * H, *o = a + 3 * H;
#pragma omp simd
        for (int64_t k = 0; k < H; ++k) c[k] = f[k] * c_previous[k] + i[k] * g[k];  // c_t
        T mean_c, rstd_c_value;
        moments(c, H, eps, mean_c, rstd_c_value);
        rcs[r * B + b] = rstd_c_value;
        T* nc = ncs + (r * B + b) * H;
        T* tc = tcs + (r * B + b) * H;
#pragma omp simd
        for (int64_t k = 0; k < H; ++k) {
          const T chat = (c[k] - mean_c) * rstd_c_value;
          nc[k] = chat;
          tc[k] = tanh_approx(gc[k] * chat + (bc ? bc[k] : T(0)));  // tanh(LN(c_t))
          hb[k] = o[k] * tc[k];  // h_t
        }
        if (separate_outputs) std::memcpy(out + (t * B + b) * H, hb, H * sizeof(T));
      }
    });
    h = states[t];
  }
}

// x (T, B, 4H), weight_hh (4H, H), gamma_hh (4H), beta_hh (4H or empty), gamma_c (H), beta_c (H or empty),
// h0, c0 (B, H), mask (T, B) bool or empty -> [outputs (T, B, H), h_T, c_T] and, with keep, what the backward
// reads: [normalised u (T, B, 4H), rstd_u (T, B), activations i f g o (T, B, 4H), cells c_0..c_T (T+1, B, H),
// normalised c (T, B, H), rstd_c (T, B), tanh(LN(c)) (T, B, H), states h_1..h_T (T, B, H)]
std::vector<at::Tensor> lnlstm_forward(const at::Tensor& x_in, const at::Tensor& weight_hh, const at::Tensor& gamma_hh,
                                       const at::Tensor& beta_hh, const at::Tensor& gamma_c,
                                       const at::Tensor& beta_c, const at::Tensor& h0, const at::Tensor& c0,
                                       const at::Tensor& mask_in, int64_t ragged_from, double eps, bool keep) {
  TORCH_CHECK(x_in.dim() == 3 && x_in.size(2) % 4 == 0, "lnlstm_forward: x must be (T, B, 4H)");
  TORCH_CHECK(x_in.device().is_cpu(), "lnlstm_forward: CPU tensors only");
  const at::Tensor x = x_in.contiguous();
  const at::Tensor mask = mask_in.numel() ? mask_in.contiguous() : mask_in;
  const int64_t T = x.size(0), B = x.size(1), G = x.size(2), H = G / 4, rows = keep ? T : 1;
  const auto options = x.options();
  at::Tensor states = at::empty({T, B, H}, options);
  at::Tensor outputs = mask.numel() ? at::empty({T, B, H}, options) : states;
  at::Tensor cells = at::empty({T + 1, B, H}, options);
  cells[0].copy_(c0);
  at::Tensor normed_u = at::empty({rows, B, G}, options), activations = at::empty({rows, B, G}, options);
  at::Tensor rstd_u = at::empty({rows, B}, options), rstd_c = at::empty({rows, B}, options);
  at::Tensor normed_c = at::empty({rows, B, H}, options), tanh_c = at::empty({rows, B, H}, options);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lnlstm_forward", [&] {
    forward_loop<scalar_t>(x, weight_hh.contiguous(), gamma_hh.contiguous(), beta_hh.contiguous(),
                           gamma_c.contiguous(), beta_c.contiguous(), h0.contiguous(), mask, ragged_from, eps, keep,
                           states, outputs, cells, normed_u, rstd_u, activations, normed_c, rstd_c, tanh_c);
  });
  std::vector<at::Tensor> result{outputs, states[T - 1].clone(), cells[T].clone()};
  if (keep) {
    for (const auto& saved : {normed_u, rstd_u, activations, cells, normed_c, rstd_c, tanh_c, states}) {
      result.push_back(saved);
    }
  }
  return result;
}

template <typename T>
void backward_loop(const at::Tensor& grad_outputs, const at::Tensor& weight_hh, const at::Tensor& gamma_hh,
                   const at::Tensor& gamma_c, const at::Tensor& mask, int64_t ragged_from,
                   const at::Tensor& normed_u, const at::Tensor& rstd_u, const at::Tensor& activations,
                   const at::Tensor& cells, const at::Tensor& normed_c, const at::Tensor& rstd_c,
                   const at::Tensor& tanh_c, at::Tensor& grad_gates, at::Tensor& grad_u, at::Tensor& dh,
                   at::Tensor& dc, at::Tensor& sums) {
  const int64_t steps = normed_u.size(0), B = normed_u.size(1), G = normed_u.size(2), H = G / 4;
  const T* go = grad_outputs.data_ptr<T>();
  const T* gh = gamma_hh.data_ptr<T>();
  const T* gc = gamma_c.data_ptr<T>();
  const bool* ms = mask.numel() ? mask.data_ptr<bool>() : nullptr;
  const T* us = normed_u.data_ptr<T>();
  const T* rus = rstd_u.data_ptr<T>();
  const T* as = activations.data_ptr<T>();
  const T* cs = cells.data_ptr<T>();
  const T* ncs = normed_c.data_ptr<T>();
  const T* rcs = rstd_c.data_ptr<T>();
  const T* tcs = tanh_c.data_ptr<T>();
  T* das = grad_gates.data_ptr<T>();
  T* dus = grad_u.data_ptr<T>();
  T* dcs = dc.data_ptr<T>();
  // per batch row, summed over time: dgamma_hh, dbeta_hh (4H each), dgamma_c, dbeta_c (H each)
  T* row_sums = sums.data_ptr<T>();
  const int64_t sums_width = 2 * G + 2 * H;
  at::Tensor dn_rows = at::empty({B, H}, dh.options());  // dn of each row, between two passes over it
  at::Tensor carried = at::empty({B, H}, dh.options());  // what passes to h_{t-1} besides W_hh^T du_t
  at::Tensor dh_next = at::empty({B, H}, dh.options());
  T* dns = dn_rows.data_ptr<T>();
  T* carry = carried.data_ptr<T>();
  for (int64_t t = steps - 1; t >= 0; --t) {
    const T* dhs = dh.data_ptr<T>();
    at::parallel_for(0, B, grain_for(G), [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        T* da = das + (t * B + b) * G;
        T* du = dus + (t * B + b) * G;
        const T* dhb = dhs + b * H;
        T* carry_b = carry + b * H;
        const bool active = !(ms && t >= ragged_from && !ms[t * B + b]);
        if (!active) {  // h_t = h_{t-1}, c_t = c_{t-1}: the gradients pass through, the step's are 0
          std::memset(da, 0, G * sizeof(T));
          std::memset(du, 0, G * sizeof(T));
          std::memcpy(carry_b, dhb, H * sizeof(T));
          continue;
        }
        std::memset(carry_b, 0, H * sizeof(T));
        const T* a = as + (t * B + b) * G;
        const T *i = a, *f = a + H, *g = a + 2 * H, *o = a + 3 * H;
        const T* gob = go + (t * B + b) * H;
        const T* tc = tcs + (t * B + b) * H;
        const T* nc = ncs + (t * B + b) * H;
        const T* c_previous = cs + (t * B + b) * H;
        T* dn = dns + b * H;
        T* dcb = dcs + b * H;
        T* sum_b = row_sums + b * sums_width;
        T *dgamma_hh = sum_b, *dbeta_hh = sum_b + G, *dgamma_c = sum_b + 2 * G, *dbeta_c = sum_b + 2 * G + H;
        T s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
        for (int64_t k = 0; k < H; ++k) {
          const T dhk = dhb[k] + gob[k];  // from step t+1 and from the output at t
          const T ok = o[k], tck = tc[k];
          da[3 * H + k] = dhk * tck * ok * (T(1) - ok);  // da_o
          const T dnk = dhk * ok * (T(1) - tck * tck);  // reaches LN(c_t)
          dn[k] = dnk;
          const T dy = dnk * gc[k];
          s1 += dy;
          s2 += dy * nc[k];
        }
        const T rc = rcs[t * B + b], mean1 = s1 / static_cast<T>(H), mean2 = s2 / static_cast<T>(H);
#pragma omp simd
        for (int64_t k = 0; k < H; ++k) {
          const T dnk = dn[k];
          dgamma_c[k] += dnk * nc[k];
          dbeta_c[k] += dnk;
          const T dck = dcb[k] + rc * (dnk * gc[k] - mean1 - nc[k] * mean2);  // dc = dc_t + LN'_c(dn)
          const T ik = i[k], fk = f[k], gk = g[k];
          da[k] = dck * gk * ik * (T(1) - ik);  // da_i
          da[H + k] = dck * c_previous[k] * fk * (T(1) - fk);  // da_f
          da[2 * H + k] = dck * ik * (T(1) - gk * gk);  // da_g
          dcb[k] = dck * fk;  // dc_{t-1}
        }
        const T* uhat = us + (t * B + b) * G;
        T t1 = 0, t2 = 0;
#pragma omp simd reduction(+ : t1, t2)
        for (int64_t k = 0; k < G; ++k) {
          const T dy = da[k] * gh[k];
          t1 += dy;
          t2 += dy * uhat[k];
        }
        const T ru = rus[t * B + b], mean_1 = t1 / static_cast<T>(G), mean_2 = t2 / static_cast<T>(G);
#pragma omp simd
        for (int64_t k = 0; k < G; ++k) {
          const T dak = da[k];
          dgamma_hh[k] += dak * uhat[k];
          dbeta_hh[k] += dak;
          du[k] = ru * (dak * gh[k] - mean_1 - uhat[k] * mean_2);  // du_t = LN'_hh(da_t)
        }
      }
    });
    // dh_{t-1} = W_hh^T du_t + what a carried state passes on; the output gradient at t-1 is added in the next
    // step's row loop, where the mask is read
    at::addmm_out(dh_next, carried, grad_u[t], weight_hh);
    std::swap(dh, dh_next);
  }
}

// grad_outputs (T, B, H) (already 0 past each end, or 0 there since the forward wrote a constant), grad_h,
// grad_c (B, H), then the forward's inputs and saved tensors -> [dx (T, B, 4H), dW_hh (4H, H) or empty,
// dgamma_hh, dbeta_hh (4H), dgamma_c, dbeta_c (H), dh_0, dc_0 (B, H)]
std::vector<at::Tensor> lnlstm_backward(const at::Tensor& grad_outputs_in, const at::Tensor& grad_h,
                                        const at::Tensor& grad_c, const at::Tensor& weight_hh_in,
                                        const at::Tensor& gamma_hh_in, const at::Tensor& gamma_c_in,
                                        const at::Tensor& h0, const at::Tensor& mask_in, int64_t ragged_from,
                                        const at::Tensor& normed_u, const at::Tensor& rstd_u,
                                        const at::Tensor& activations, const at::Tensor& cells,
                                        const at::Tensor& normed_c, const at::Tensor& rstd_c,
                                        const at::Tensor& tanh_c, const at::Tensor& states, bool weight_grad) {
  const int64_t T = normed_u.size(0), B = normed_u.size(1), G = normed_u.size(2), H = G / 4;
  const at::Tensor grad_outputs = grad_outputs_in.contiguous(), weight_hh = weight_hh_in.contiguous();
  const at::Tensor gamma_hh = gamma_hh_in.contiguous(), gamma_c = gamma_c_in.contiguous();
  const at::Tensor mask = mask_in.numel() ? mask_in.contiguous() : mask_in;
  const auto options = normed_u.options();
  at::Tensor grad_gates = at::empty({T, B, G}, options), grad_u = at::empty({T, B, G}, options);
  at::Tensor dh = grad_h.to(options, /*non_blocking=*/false, /*copy=*/true).contiguous();
  at::Tensor dc = grad_c.to(options, false, true).contiguous();
  at::Tensor sums = at::zeros({B, 2 * G + 2 * H}, options);
  AT_DISPATCH_FLOATING_TYPES(normed_u.scalar_type(), "lnlstm_backward", [&] {
    backward_loop<scalar_t>(grad_outputs, weight_hh, gamma_hh, gamma_c, mask, ragged_from, normed_u, rstd_u,
                            activations, cells, normed_c, rstd_c, tanh_c, grad_gates, grad_u, dh, dc, sums);
  });
  at::Tensor grad_weight = at::empty({0}, options);
  if (weight_grad) {  // sum_t du_t^T h_{t-1}: h_0, then the states h_1 .. h_{T-1}
    const at::Tensor flat = grad_u.view({T * B, G});
    grad_weight = at::mm(flat.narrow(0, 0, B).t(), h0.contiguous());
    if (T > 1) {
      grad_weight.addmm_(flat.narrow(0, B, (T - 1) * B).t(), states.narrow(0, 0, T - 1).reshape({-1, H}));
    }
  }
  const at::Tensor total = sums.sum(0);  // over the batch rows, once
  return {grad_gates, grad_weight, total.narrow(0, 0, G), total.narrow(0, G, G), total.narrow(0, 2 * G, H),
          total.narrow(0, 2 * G + H, H), dh, dc};
}

}  // namespace

TORCH_LIBRARY(rnnkit_lnlstm, m) {
  m.def("forward(Tensor x, Tensor weight_hh, Tensor gamma_hh, Tensor beta_hh, Tensor gamma_c, Tensor beta_c, "
        "Tensor h0, Tensor c0, Tensor mask, int ragged_from, float eps, bool keep) -> Tensor[]",
        &lnlstm_forward);
  m.def("backward(Tensor grad_outputs, Tensor grad_h, Tensor grad_c, Tensor weight_hh, Tensor gamma_hh, "
        "Tensor gamma_c, Tensor h0, Tensor mask, int ragged_from, Tensor normed_u, Tensor rstd_u, "
        "Tensor activations, Tensor cells, Tensor normed_c, Tensor rstd_c, Tensor tanh_c, Tensor states, "
        "bool weight_grad) -> Tensor[]",
        &lnlstm_backward);
}
