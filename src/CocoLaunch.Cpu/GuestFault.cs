namespace CocoLaunch.Cpu;

/// <summary>Exception vectors the CPU raises (Intel SDM vol. 3 §6.3.1).</summary>
public static class Vector
{
    public const int DivideError = 0;
    public const int Debug = 1;
    public const int Nmi = 2;
    public const int Breakpoint = 3;
    public const int Overflow = 4;
    public const int BoundRange = 5;
    public const int InvalidOpcode = 6;
    public const int DeviceNotAvailable = 7;
    public const int DoubleFault = 8;
    public const int InvalidTss = 10;
    public const int SegmentNotPresent = 11;
    public const int StackFault = 12;
    public const int GeneralProtection = 13;
    public const int PageFault = 14;
    public const int FloatingPoint = 16;
    public const int AlignmentCheck = 17;
    public const int SimdFloatingPoint = 19;
    public const int VirtualizationException = 20;
    public const int VmmCommunication = 29;

    /// <summary>Vectors that push an error code in protected and long mode.</summary>
    public static bool HasErrorCode(int vector) => vector is DoubleFault or InvalidTss or SegmentNotPresent or StackFault
        or GeneralProtection or PageFault or AlignmentCheck or VmmCommunication;
}

/// <summary>
/// A fault the guest raised, unwinding the interpreter to the instruction boundary where it is delivered. Never
/// escapes <see cref="X86Cpu.Run"/>: guest behaviour becomes guest exceptions, not host ones.
/// </summary>
internal sealed class GuestFault(int vector, uint? errorCode = null) : Exception
{
    public int VectorNumber { get; } = vector;

    public uint? ErrorCode { get; } = errorCode;

    public static GuestFault Gp(uint code = 0) => new(Vector.GeneralProtection, code);

    public static GuestFault Ud() => new(Vector.InvalidOpcode);
}

/// <summary>Unwinds an instruction that read MMIO: it runs again once the platform supplies the data.</summary>
internal sealed class MmioReadPending(ulong gpa, int size, bool isPrivate, ulong linear) : Exception
{
    public CpuExit.MmioRead Exit { get; } = new(gpa, size, isPrivate, linear);
}

/// <summary>
/// Thrown by an <see cref="IPlatform"/> method to stop the instruction that touched a page before it has any
/// effect (an implicit conversion, a TD accessing a page it has not accepted): <see cref="X86Cpu.Run"/> returns
/// <see cref="CpuExit.Stopped"/> with <paramref name="reason"/>, and the instruction runs again on the next Run.
/// Throwing <see cref="PlatformFault"/> instead delivers an exception to the guest at that instruction.
/// </summary>
public sealed class PlatformStop(object reason) : Exception("the platform stopped the access: " + reason)
{
    public object Reason { get; } = reason;
}

/// <summary>Thrown by an <see cref="IPlatform"/> method to raise an exception in the guest at the instruction (e.g. TDX #VE, SNP #VC).</summary>
public sealed class PlatformFault(int vector, uint? errorCode = null) : Exception($"the platform raised vector {vector}")
{
    public int Vector { get; } = vector;

    public uint? ErrorCode { get; } = errorCode;
}
