using BenchmarkDotNet.Running;

// Engine micro-benchmarks (no FUSE): dotnet run -c Release --project benchmarks/Qcow2Mount.Benchmarks -- --filter '*'
// The end-to-end numbers against QEMU come from scripts/bench.sh.
BenchmarkSwitcher.FromAssembly(typeof(Qcow2Mount.Benchmarks.QemuImg).Assembly).Run(args);
