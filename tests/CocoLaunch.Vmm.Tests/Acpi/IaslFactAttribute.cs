namespace CocoLaunch.Vmm.Tests.Acpi;

/// <summary>A fact that is skipped, with the reason, where ACPICA's iasl is not on PATH.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class IaslFactAttribute : FactAttribute
{
    public IaslFactAttribute()
    {
        if (Iasl.Path is null)
        {
            Skip = "iasl not found on PATH (install acpica-tools) to check the tables against ACPICA's disassembler";
        }
    }
}
