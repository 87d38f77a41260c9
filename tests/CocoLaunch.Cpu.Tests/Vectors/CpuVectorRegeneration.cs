using Xunit.Abstractions;

namespace CocoLaunch.Cpu.Tests;

/// <summary>A fact that runs only when asked to regenerate the vector file and KVM is usable.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class RegenerateFactAttribute : FactAttribute
{
    public const string Variable = "COCOLAUNCH_REGENERATE_CPU_VECTORS";

    public RegenerateFactAttribute()
    {
        if (Environment.GetEnvironmentVariable(Variable) != "1")
        {
            Skip = $"set {Variable}=1 to regenerate tests/data/{CpuVectorGenerator.FileName}";
        }
        else if (RealCpu.Shared is null)
        {
            Skip = "no usable KVM: " + RealCpu.SharedWhyNot;
        }
    }
}

/// <summary>Rewrites tests/data/cpu-vectors.tsv from the host CPU (committed data: rerun only on purpose).</summary>
public sealed class CpuVectorRegeneration(ITestOutputHelper output)
{
    [RegenerateFact]
    public void Regenerate()
    {
        var lines = CpuVectorGenerator.Generate(RealCpu.Shared!);
        File.WriteAllText(CpuVectorGenerator.DefaultPath, string.Join('\n', lines) + "\n");
        var rows = lines.Skip(2).Select(CpuVectorTable.Parse).ToList();
        foreach (var family in VectorForms.All.GroupBy(f => f.Family))
        {
            var names = family.Select(f => f.Name).ToHashSet();
            output.WriteLine($"{family.Key}\t{family.Count()} forms\t{rows.Count(r => names.Contains(r.Name))} rows");
        }

        output.WriteLine($"total\t{rows.Count} rows\t{new FileInfo(CpuVectorGenerator.DefaultPath).Length} bytes");
    }
}
