namespace CocoLaunch.Cpu.Tests;

/// <summary>A fact that is skipped, with the reason, where <see cref="RealCpu.Shared"/> cannot be opened.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class KvmFactAttribute : FactAttribute
{
    public KvmFactAttribute()
    {
        if (RealCpu.Shared is null)
        {
            Skip = "no usable KVM: " + RealCpu.SharedWhyNot;
        }
    }
}

/// <summary>A theory that is skipped, with the reason, where <see cref="RealCpu.Shared"/> cannot be opened.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class KvmTheoryAttribute : TheoryAttribute
{
    public KvmTheoryAttribute()
    {
        if (RealCpu.Shared is null)
        {
            Skip = "no usable KVM: " + RealCpu.SharedWhyNot;
        }
    }
}
