/**
 * AdamW (Loshchilov & Hutter) as torch.optim.AdamW: decoupled weight decay p -= lr * wd * p, then
 * p -= lr * m_hat / (sqrt(v_hat) + eps) with bias-corrected moments. Plus global-norm gradient clipping
 * as torch.nn.utils.clip_grad_norm_. Parameters are visited in a fixed order (deterministic).
 */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Parameters excluded from weight decay (HF Trainer excludes norms and biases). */
  noDecay?: (name: string) => boolean;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

export class AdamW {
  readonly params: Map<string, Float32Array>;
  readonly opts: AdamWOptions;
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();
  t = 0;

  constructor(params: Map<string, Float32Array>, opts: Partial<AdamWOptions> = {}) {
    this.params = params;
    this.opts = { ...ADAMW_DEFAULTS, ...opts };
    for (const [name, p] of params) {
      this.m.set(name, new Float32Array(p.length));
      this.v.set(name, new Float32Array(p.length));
    }
  }

  step(grads: Map<string, Float32Array>, lr: number): void {
    const { beta1, beta2, eps, weightDecay, noDecay } = this.opts;
    this.t++;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g) continue;
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      const decay = weightDecay > 0 && !noDecay?.(name) ? 1 - lr * weightDecay : 1;
      const stepSize = lr / bc1;
      const sqrtBc2 = Math.sqrt(bc2);
      for (let i = 0; i < p.length; i++) {
        m[i] = beta1 * m[i] + (1 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
        p[i] = p[i] * decay - (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtBc2 + eps);
      }
    }
  }
}

/** Scales all gradients so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(grads: Map<string, Float32Array>, maxNorm: number): number {
  let ss = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) ss += g[i] * g[i];
  const norm = Math.sqrt(ss);
  if (maxNorm > 0 && norm > maxNorm) {
    const c = maxNorm / (norm + 1e-6);
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= c;
  }
  return norm;
}
