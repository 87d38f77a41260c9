using Iced.Intel;

namespace CocoLaunch.Cpu;

/// <summary>
/// The instructions <see cref="Execute"/>'s own switch leaves to the topic executors (control flow, strings, system,
/// SSE, XSAVE, fast system calls, CR4 features, RDRAND, x87). Asking each in turn cost SSE code a third of its time; the
/// executor that took an instruction form (its Iced <see cref="Code"/>) is remembered and asked first next time. The
/// executors decline without side effects, so a form that another executor takes later still finds it.
/// </summary>
public sealed partial class X86Cpu
{
    private const byte ExecutorCount = 9, SseExecutor = 4;

    // Shared by every CPU: which executor took each instruction form last (0 = not yet seen). A torn or stale entry
    // only costs the walk through the chain.
    private static readonly byte[] ExecutorByCode = new byte[Enum.GetValues<Code>().Length];

    private void ExecuteByExecutor(ref Instruction i)
    {
        int code = (int)i.Code;
        byte known = ExecutorByCode[code];
        if (known == SseExecutor ? ExecuteSseForm(ref i) : known != 0 && RunExecutor(known, ref i))
        {
            return;
        }

        for (byte e = 1; e <= ExecutorCount; e++)
        {
            if (e != known && RunExecutor(e, ref i))
            {
                ExecutorByCode[code] = e;
                return;
            }
        }

        // A valid instruction (Iced decoded it) that no executor has: the guest sees #UD, as a CPU without the
        // feature would give, and the run can say why the guest died.
        FirstUnemulated ??= (i.IP, i.Code);
        throw GuestFault.Ud();
    }

    /// <summary>The first valid instruction this CPU does not emulate that the guest executed (its RIP and form), or null.</summary>
    public (ulong Rip, Code Form)? FirstUnemulated { get; private set; }

    private bool RunExecutor(byte executor, ref Instruction i) => executor switch
    {
        1 => ExecuteControl(ref i),
        2 => ExecuteString(ref i),
        3 => ExecuteSystem(ref i),
        SseExecutor => ExecuteSse(ref i),
        5 => ExecuteXsave(ref i),
        6 => ExecuteFastSystemCall(ref i),
        7 => ExecuteCr4Feature(ref i),
        8 => ExecuteRandom(ref i),
        _ => ExecuteX87(ref i),
    };
}
