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
