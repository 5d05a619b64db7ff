// @tributary/engine: LoRA / QLoRA fine-tuning and inference for Llama-architecture models, in TypeScript.

// kernels
export type { Kernel, KernelName, MatmulArgs } from "./kernels/kernel.ts";
export { createReferenceKernel, matmulReference } from "./kernels/reference.ts";
export { selectKernel } from "./select-kernel.ts";

// errors
export { ConfigError, EngineError, FormatError } from "./errors.ts";

// formats
export { f16ToF32, f32ToBf16, readSafetensors, writeSafetensors } from "./formats/safetensors.ts";
export type { SafetensorsFile, StDtype, Tensor, WriteOptions } from "./formats/safetensors.ts";

// model
export { llamaConfig, parseLlamaConfig, toHfConfig } from "./model/config.ts";
export type { LlamaConfig } from "./model/config.ts";
export { assembleModel, backward, countParams, createKvCache, forward, forwardBatch, forwardCached, initModel, lossBackward, modelTensors, trainableBaseParams } from "./model/llama.ts";
export type { Batch, BatchSegment, ForwardCache, ForwardOptions, InitOptions, KvCache, LlamaLayer, LlamaModel, LoraTap } from "./model/llama.ts";
export { loadModel, modelFromTensors, readConfig, saveModel } from "./model/io.ts";
export type { LoadOptions, SaveOptions } from "./model/io.ts";
export { ChatTokenizer } from "./model/tokenizer.ts";
export type { ChatMessage } from "./model/tokenizer.ts";

// LoRA
export { PROJECTIONS, adapterParams, createLoraAdapter, loraConfig, loraScale, moduleName, projectionShape } from "./lora/adapter.ts";
export type { LoraAdapter, LoraConfig, LoraModule, Projection } from "./lora/adapter.ts";
export { adapterFromTensors, adapterTensors, loadAdapter, parseAdapterConfigJson, saveAdapter, toAdapterConfigJson } from "./lora/peft.ts";
export type { SaveAdapterOptions } from "./lora/peft.ts";
export { mergeAdapter } from "./lora/merge.ts";

// QLoRA
export { NF4_BLOCK, NF4_LEVELS, Nf4Tensor, quantizeNf4 } from "./quant/nf4.ts";

// training
export { DataError, countTargets, countTokens, encodeRecord, makeBatch, parseRecordsJsonl, planBatches, splitEval } from "./train/data.ts";
export type { Example, TrainingRecord } from "./train/data.ts";
export { evaluate, train, trainConfig } from "./train/trainer.ts";
export type { InRunHooks, InRunStep, TrainConfig, TrainOptions, TrainProgress, TrainResult } from "./train/trainer.ts";
export { ADAMW_DEFAULTS, AdamW, clipGradNorm } from "./train/adamw.ts";
export { TOKENIZER_FILES, fineTune } from "./train/fine-tune.ts";
export type { FineTuneMetrics, FineTuneOptions } from "./train/fine-tune.ts";
export { lossGradient } from "./train/gradient.ts";
export { ExampleGradients } from "./train/per-example.ts";
export type { LossGradient } from "./train/gradient.ts";
export { learningRate } from "./train/schedule.ts";
export type { SchedulerType } from "./train/schedule.ts";
export { checkpointDirStateHash, checkpointName, checkpointStateHash, latestCheckpoint, loadCheckpoint, saveCheckpoint } from "./train/checkpoint.ts";
export type { TrainerState } from "./train/checkpoint.ts";
export { replaySegment, replaySegments, runSteps, segmentWitness } from "./train/replay.ts";
export type { ReplayedState, ReplayOptions } from "./train/replay.ts";

// generation
export { generate, generateChat } from "./generate/generate.ts";
export type { GenerateOptions, GenerateResult } from "./generate/generate.ts";
export { argmax, sampleToken } from "./generate/sampling.ts";

// randomness
export { Rng, deriveSeed } from "./random/prng.ts";

// export to llama.cpp (GGUF)
export { llamaToGguf, loraToGguf } from "./export/gguf-llama.ts";
export type { HfTokenizerFiles, LlamaGgufOptions, LlamaHfConfig, LoraAdapterConfig, LoraGgufOptions, NamedTensor } from "./export/gguf-llama.ts";
