using Iced.Intel;

namespace CocoLaunch.Cpu.Tests;

/// <summary>One instruction form: an Iced <see cref="Iced.Intel.Code"/>, with its r/m operand as a register or memory.</summary>
internal sealed record VectorForm(string Name, string Family, Code Code, bool Memory, int Cases, RepPrefixKind Rep = RepPrefixKind.None)
{
    /// <summary>The lower-case mnemonic part of the Iced code name ("Add_rm32_r32" → "add").</summary>
    public string Mnemonic => Code.ToString().Split('_')[0].ToLowerInvariant();
}

/// <summary>
/// The forms the generator covers: every 64-bit legacy encoding of the listed mnemonics whose operands are GPRs,
/// memory or immediates, found through Iced's op-code tables rather than listed by hand.
/// </summary>
internal static class VectorForms
{
    private static readonly (string Family, int RegCases, int MemCases, string[] Mnemonics)[] Families =
    [
        ("alu", 6, 2, ["add", "adc", "sub", "sbb", "and", "or", "xor", "cmp", "test"]),
        ("unary", 10, 3, ["inc", "dec", "neg", "not"]),
        ("shift", 9, 2, ["shl", "shr", "sar", "sal", "rol", "ror", "rcl", "rcr"]),
        ("shld/shrd", 16, 6, ["shld", "shrd"]),
        ("mul", 12, 3, ["mul", "imul"]),
        ("div", 24, 6, ["div", "idiv"]),
        ("bt", 10, 5, ["bt", "bts", "btr", "btc"]),
        ("bitscan", 14, 4, ["bsf", "bsr", "tzcnt", "lzcnt", "popcnt"]),
        ("setcc", 8, 2, ["seto", "setno", "setb", "setae", "sete", "setne", "setbe", "seta", "sets", "setns", "setp", "setnp", "setl", "setge", "setle", "setg"]),
        ("cmovcc", 6, 2, ["cmovo", "cmovno", "cmovb", "cmovae", "cmove", "cmovne", "cmovbe", "cmova", "cmovs", "cmovns", "cmovp", "cmovnp", "cmovl", "cmovge", "cmovle", "cmovg"]),
        ("exchange", 12, 8, ["xchg", "xadd", "cmpxchg", "cmpxchg8b", "cmpxchg16b"]),
        ("extend", 10, 4, ["bswap", "movzx", "movsx", "movsxd"]),
        ("lea", 24, 0, ["lea"]),
        ("convert", 12, 0, ["cbw", "cwde", "cdqe", "cwd", "cdq", "cqo"]),
        ("stack", 10, 6, ["push", "pushw", "pushq", "pop", "enterw", "enterq", "leavew", "leaveq", "pushfw", "pushfq", "popfw", "popfq"]),
        ("flags", 12, 0, ["lahf", "sahf", "clc", "stc", "cmc", "cld", "std"]),
    ];

    private static readonly Code[] StringCodes =
    [
        Code.Movsb_m8_m8, Code.Movsw_m16_m16, Code.Movsd_m32_m32, Code.Movsq_m64_m64,
        Code.Stosb_m8_AL, Code.Stosw_m16_AX, Code.Stosd_m32_EAX, Code.Stosq_m64_RAX,
        Code.Lodsb_AL_m8, Code.Lodsw_AX_m16, Code.Lodsd_EAX_m32, Code.Lodsq_RAX_m64,
        Code.Cmpsb_m8_m8, Code.Cmpsw_m16_m16, Code.Cmpsd_m32_m32, Code.Cmpsq_m64_m64,
        Code.Scasb_AL_m8, Code.Scasw_AX_m16, Code.Scasd_EAX_m32, Code.Scasq_RAX_m64,
    ];

    public static IReadOnlyList<VectorForm> All { get; } = Build();

    public static bool IsRegisterOrMemory(OpCodeOperandKind kind) => kind is OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r64_or_mem;

    /// <summary>Operand width in bits of a GPR operand kind, 0 when the kind is not a GPR.</summary>
    public static int RegisterBits(OpCodeOperandKind kind) => kind switch
    {
        OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode => 8,
        OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_rm or OpCodeOperandKind.r16_opcode => 16,
        OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_opcode => 32,
        OpCodeOperandKind.r64_or_mem or OpCodeOperandKind.r64_reg or OpCodeOperandKind.r64_rm or OpCodeOperandKind.r64_opcode => 64,
        _ => 0,
    };

    public static Register FixedRegister(OpCodeOperandKind kind) => kind switch
    {
        OpCodeOperandKind.al => Register.AL,
        OpCodeOperandKind.cl => Register.CL,
        OpCodeOperandKind.ax => Register.AX,
        OpCodeOperandKind.dx => Register.DX,
        OpCodeOperandKind.eax => Register.EAX,
        OpCodeOperandKind.rax => Register.RAX,
        _ => Register.None,
    };

    public static bool IsImmediate(OpCodeOperandKind kind) => kind is OpCodeOperandKind.imm8 or OpCodeOperandKind.imm8_const_1 or OpCodeOperandKind.imm8sex16
        or OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm8sex64 or OpCodeOperandKind.imm16 or OpCodeOperandKind.imm32 or OpCodeOperandKind.imm32sex64;

    private static List<VectorForm> Build()
    {
        var byMnemonic = Families.SelectMany(f => f.Mnemonics.Select(m => (m, f))).ToDictionary(p => p.m, p => p.f);
        var forms = new List<VectorForm>();
        foreach (var code in Enum.GetValues<Code>())
        {
            var op = code.ToOpCode();
            string mnemonic = code.ToString().Split('_')[0].ToLowerInvariant();
            if (!byMnemonic.TryGetValue(mnemonic, out var family) || !op.IsInstruction || !op.Mode64 || op.Encoding != EncodingKind.Legacy || !Supported(op))
            {
                continue;
            }

            var kinds = Enumerable.Range(0, op.OpCount).Select(op.GetOpKind).ToArray();
            bool hasRm = kinds.Any(IsRegisterOrMemory);
            bool memoryOnly = kinds.Contains(OpCodeOperandKind.mem);
            if (!memoryOnly)
            {
                forms.Add(new VectorForm(Name(op, memory: false), family.Family, code, false, family.RegCases));
            }

            if (hasRm || memoryOnly)
            {
                int cases = memoryOnly ? family.RegCases : family.MemCases;
                if (cases > 0)
                {
                    forms.Add(new VectorForm(Name(op, memory: true), family.Family, code, true, cases));
                }
            }
        }

        foreach (var code in StringCodes)
        {
            string mnemonic = code.ToString().Split('_')[0].ToLowerInvariant();
            bool conditional = mnemonic.StartsWith("cmps", StringComparison.Ordinal) || mnemonic.StartsWith("scas", StringComparison.Ordinal);
            forms.Add(new VectorForm(mnemonic, "string", code, true, 8));
            forms.Add(new VectorForm((conditional ? "repe " : "rep ") + mnemonic, "string", code, true, 10, RepPrefixKind.Repe));
            if (conditional)
            {
                forms.Add(new VectorForm("repne " + mnemonic, "string", code, true, 10, RepPrefixKind.Repne));
            }
        }

        return forms;
    }

    private static bool Supported(OpCodeInfo op)
    {
        for (int i = 0; i < op.OpCount; i++)
        {
            var kind = op.GetOpKind(i);
            if (RegisterBits(kind) == 0 && FixedRegister(kind) == Register.None && !IsImmediate(kind) && kind != OpCodeOperandKind.mem)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>"ADD r/m32, r32" becomes "add r32,r32" or "add m32,r32"; the opcode keeps aliases apart ("add r32,r32 (03)").</summary>
    private static string Name(OpCodeInfo op, bool memory)
    {
        string text = op.ToInstructionString().ToLowerInvariant().Replace(", ", ",", StringComparison.Ordinal);
        text = text.Replace("r/m", memory ? "m" : "r", StringComparison.Ordinal);
        string opcode = op.ToOpCodeString();
        return $"{text} ({opcode})";
    }
}
