using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;

namespace CocoLaunch.Cpu.Jit;

/// <summary>
/// Compiles hot blocks on a thread of its own, so the vCPU goes on interpreting a block while RyuJIT makes its
/// native code (about a millisecond a block) instead of waiting for it; the block switches to compiled code on its
/// next run after that. One thread for the process: compiles queue, and a host with two cores keeps one for the vCPU.
/// </summary>
[RequiresDynamicCode("Compiles blocks with BlockCompiler; only queued to where RuntimeFeature.IsDynamicCodeSupported.")]
internal static class BackgroundCompiler
{
    private static readonly Channel<Block> Queue = Channel.CreateUnbounded<Block>(new UnboundedChannelOptions { SingleReader = true });

    static BackgroundCompiler()
    {
        var worker = new Thread(Work) { IsBackground = true, Name = "cocolaunch block compiler" };
        worker.Start();
    }

    /// <summary>Queues <paramref name="block"/>; its <see cref="Block.Compiled"/> is set when its code is ready.</summary>
    public static void Enqueue(Block block) => Queue.Writer.TryWrite(block);

    private static void Work()
    {
        var reader = Queue.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var block))
            {
                try
                {
                    Volatile.Write(ref block.CompiledCode, BlockCompiler.CompileNative(block));
                }
                catch (Exception e) when (e is InvalidProgramException or NotSupportedException or InvalidOperationException or ArgumentException)
                {
                    // A block the compiler cannot turn into valid IL stays queued and uncompiled: the interpreter
                    // runs it correctly, and this thread must not die and take the process with it.
                }
            }
        }
    }
}
